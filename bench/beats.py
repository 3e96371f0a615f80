"""An instance's counters as of a heartbeat that came after a given moment.

A child's totals (datapoints routed, registers read, requests sent) ride along with
its heartbeat but never cause one (ipc/heartbeat.py): the supervisor's copy of them
may be up to ``heartbeat_s`` old. A benchmark that takes the difference of two
readings therefore takes each from the first heartbeat after its moment and divides
by the time between those two heartbeats, not by its own sleep."""

from __future__ import annotations

import time
from typing import Any

from tests.integration.daemon import Daemon


def row_after(d: Daemon, iid: str, moment: float, timeout: float = 20.0
              ) -> tuple[dict[str, Any], float]:
    """The status row of ``iid`` once its last heartbeat is later than ``moment``
    (monotonic s: the host's clock, the daemon's too), and that heartbeat's time."""
    end = moment + timeout
    while True:
        asked = time.monotonic()
        row = d.instance(iid)
        age = row.get("heartbeat_age_s")
        if age is not None and asked - age > moment:  # (answered after ``asked``)
            return row, (asked + time.monotonic()) / 2 - age
        if asked > end:
            raise RuntimeError(f"{iid}: no heartbeat within {timeout:g} s")
        time.sleep(0.1)
