"""routing.json at broker start, with the last good set as a fall-back.

``reload`` refuses a bad routing.json but the file stays on disk; the next broker start
(a crash, a kill -9, a power cut) must not read it and crash-loop, leaving every route
down until a person fixes it (issue 17 item 2). So every table the broker takes is also
kept as ``<data>/routing.last-good.json`` (written atomically), and a start whose
routing.json is refused runs on that copy and says so loudly: an ERROR line, an error
report to the supervisor, and the refusal in the broker's stats.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from pathlib import Path

from edgeos.ipc.routing import RouteTable, RoutingError, load_routing, load_routing_file
from edgeos.supervisor.files import atomic_write_json

log = logging.getLogger("broker")

LAST_GOOD = "routing.last-good.json"


class RoutingRefused(Exception):
    """routing.json on disk was refused at start; the broker runs on the last good set."""


def keep(table: RouteTable, data_dir: Path) -> None:
    """Remember ``table`` as the last good set (skipped when it is unchanged)."""
    path = data_dir / LAST_GOOD
    doc = table.to_doc()
    try:
        if path.exists() and load_doc(path) == doc:
            return
    except (OSError, ValueError):
        pass  # unreadable: write it again
    atomic_write_json(path, doc)


def load_doc(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


def load_at_start(config_dir: Path, data_dir: Path, instance_ids: Collection[str]
                  ) -> tuple[RouteTable, RoutingRefused | None]:
    """The table to start with, and why routing.json was refused (None when it was not).

    routing.json if valid; else the last good set (validated again against the
    instances configured now); else no routes at all: a broker without routes still
    keeps values and serves commands, a crash loop serves nothing."""
    path = config_dir / "routing.json"
    try:
        table = load_routing_file(path, instance_ids=instance_ids)
    except RoutingError as exc:
        refused = exc
    else:
        keep(table, data_dir)
        return table, None
    first = refused.errors[0] if refused.errors else "refused"
    more = f" (and {len(refused.errors) - 1} more problems)" if len(refused.errors) > 1 else ""
    fallback = data_dir / LAST_GOOD
    try:
        table = load_routing(load_doc(fallback), source=str(fallback),
                             instance_ids=instance_ids)
        using = f"running on the last good routes from {fallback} ({len(table.routes)} routes)"
    except (OSError, ValueError, RoutingError) as exc:
        detail = "none kept" if isinstance(exc, FileNotFoundError) else f"refused too: {exc}"
        table = load_routing({"routes": []}, source="(no routes)", instance_ids=instance_ids)
        using = f"running WITHOUT routes (last good set: {detail})"
    reason = RoutingRefused(f"{path} refused: {first}{more}; {using}; fix the file and "
                            "run 'edgectl reload'")
    for line in refused.errors[:20]:
        log.error("routing.json: %s", line)
    log.error("%s", reason)
    return table, reason
