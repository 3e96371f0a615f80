"""routing.json at broker start and reload, with the last good set as a fall-back.

Two faults left the routes down until a person stepped in (issue 17 items 2 and 3):

- ``reload`` refuses a bad routing.json but the file stays on disk; the next broker
  start (a crash, a kill -9, a power cut) read it and crash-looped;
- a routing.json that is valid but too much for the broker (it was killed at its RAM
  cap while loading it) killed every restart the same way.

So every table the broker has run on for ``STABLE_S`` is kept as
``<data>/routing.last-good.json`` (written atomically), and before the broker loads
routing.json it notes the file's fingerprint in ``<data>/routing.taking``; the note is
removed once the table is refused normally or has run for ``STABLE_S``. A start that
finds routing.json refused, or finds the note for the very same file (the broker died
taking it), runs on the last good set (rolled back) and says so loudly: an ERROR line,
an error report to the supervisor, and the reason in the broker's ``last_error``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Collection
from pathlib import Path

from edgeos.common.files import atomic_write_json
from edgeos.ipc.routing import RouteTable, RoutingError, check_routes
from edgeos.ipc.routing.check import ROUTING

log = logging.getLogger("broker")

LAST_GOOD = "routing.last-good.json"
TAKING = "routing.taking"
STABLE_S = 2.0  # a table that ran this long did not kill the broker


class RoutingRefused(Exception):
    """routing.json on disk was refused at start; the broker runs on the last good set."""


def fingerprint(path: Path) -> str:
    """sha256 of the file's bytes (read in blocks: it may be large), "" when missing."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()


class RoutesFile:
    """routing.json of one broker, the note while taking it, and the last good copy."""

    def __init__(self, config_dir: Path, data_dir: Path) -> None:
        self.path = config_dir / ROUTING
        self.data_dir = data_dir
        self.taking = data_dir / TAKING
        self.last_good = data_dir / LAST_GOOD
        self.deadly: str | None = None  # fingerprint of a file a broker died taking

    def _noted(self) -> str | None:
        try:
            return json.loads(self.taking.read_text(encoding="utf-8")).get("sha256")
        except (OSError, ValueError, AttributeError):
            return None

    def load(self, instance_ids: Collection[str]) -> RouteTable:
        """Load routing.json, noted as being taken; RoutingError when refused (also when
        a broker before this one died taking this same file)."""
        taken = fingerprint(self.path)
        if self.deadly is not None and taken == self.deadly:
            raise RoutingError([f"{self.path}: rolled back: the broker stopped while "
                                "taking this file (too large for its RAM limit?); change "
                                "the file, then reload"])
        atomic_write_json(self.taking, {"sha256": taken})
        try:
            return check_routes(self.path, instance_ids)
        except RoutingError:
            self.done_taking()
            raise

    def done_taking(self) -> None:
        """The file was refused normally, or only validated: nothing to roll back."""
        with contextlib.suppress(FileNotFoundError):
            self.taking.unlink()

    def settled(self, table: RouteTable) -> None:
        """``table`` ran for STABLE_S: keep it as the last good set, drop the note."""
        doc = table.to_doc()
        try:
            same = json.loads(self.last_good.read_text(encoding="utf-8")) == doc
        except (OSError, ValueError):
            same = False
        if not same:
            atomic_write_json(self.last_good, doc)
        self.done_taking()

    def at_start(self, instance_ids: Collection[str]
                 ) -> tuple[RouteTable, RoutingRefused | None]:
        """The table to start with, and why routing.json was refused (None when not).

        routing.json if valid; else the last good set (checked again against the
        instances configured now); else no routes at all: a broker without routes
        still keeps values and serves commands, a crash loop serves nothing."""
        noted = self._noted()  # left by a broker that died before the file settled
        if noted and noted == fingerprint(self.path):
            self.deadly = noted
        try:
            return self.load(instance_ids), None
        except RoutingError as exc:
            refused = exc
        first = refused.errors[0] if refused.errors else "refused"
        more = (f" (and {len(refused.errors) - 1} more problems)"
                if len(refused.errors) > 1 else "")
        try:
            table = check_routes(json.loads(self.last_good.read_text(encoding="utf-8")),
                                 instance_ids, str(self.last_good))
            using = (f"running on the last good routes from {self.last_good} "
                     f"({len(table.routes)} routes)")
        except (OSError, ValueError, RoutingError) as exc:
            detail = "none kept" if isinstance(exc, FileNotFoundError) else f"refused: {exc}"
            table = check_routes({"routes": []}, instance_ids, "(no routes)")
            using = f"running WITHOUT routes (last good set: {detail})"
        reason = RoutingRefused(f"{self.path} refused: {first}{more}; {using}; fix the "
                                "file and run 'edgectl reload'")
        for line in refused.errors[:20]:
            log.error("routing.json: %s", line)
        log.error("%s", reason)
        return table, reason
