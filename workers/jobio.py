"""What every discovery and browse job process shares: it dies with the daemon, prints
one JSON object per line (see :mod:`edgeos.supervisor.jobs`), reads its request from
stdin, and parses ranges of addresses the same way."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from edgeos.ipc.child import die_with_parent, set_title

MAX_REQUEST = 1 << 20


def become_job(title: str) -> None:
    """As a job of a daemon (EDGEOS_SUPERVISOR_PID set): never outlive it, show ``title``."""
    if os.environ.get("EDGEOS_SUPERVISOR_PID"):
        die_with_parent()
        set_title(title)


def emit(doc: dict[str, Any]) -> None:
    """One line of the job's output: progress, found, result or error."""
    sys.stdout.write(json.dumps(doc, default=str) + "\n")
    sys.stdout.flush()


def read_request() -> dict[str, Any]:
    """The request the supervisor wrote to stdin (an instance's config: secrets never
    travel on the command line); ValueError when it is not a JSON object with a config."""
    try:
        request = json.loads(sys.stdin.read(MAX_REQUEST))
    except ValueError as exc:
        raise ValueError(f"a JSON request is needed on stdin: {exc}") from None
    if not isinstance(request, dict) or not isinstance(request.get("config"), dict):
        raise ValueError("the request on stdin needs the instance's config")
    return request


def parse_ranges(text: str, low: int, high: int, what: str) -> list[int]:
    """``"1-10"``, ``"3"`` or ``"1,2,5-7"`` as sorted numbers from ``low`` to ``high``;
    ValueError naming ``what`` and the text."""
    found: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            raise ValueError(f"{what} {text!r}: use A-B, A or a comma-separated list") \
                from None
        if not low <= first <= last <= high:
            raise ValueError(f"{what} {text!r}: {what} lie in {low}-{high}, low to high")
        found.extend(range(first, last + 1))
    return sorted(set(found))
