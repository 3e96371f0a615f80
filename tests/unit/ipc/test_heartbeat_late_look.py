"""A look that comes late (the child's event loop stalled) is not followed by one a
hair later at the next instant of the grid: counters looked at over so short a window
measure no rate. CI once saw a Modbus worker report 0 requests/s with a latency: the
window held one answer to a request sent before it and no request."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from pathlib import Path

from edgeos.ipc.child import next_beat

from tests.unit.ipc.beat_counter import count_beats

INTERVAL = 0.4


async def _looks(run: Path) -> list[float]:
    looks: list[float] = []

    def counters() -> dict[str, float]:
        now = time.monotonic()
        looks.append(now)
        if len(looks) == 2:  # stall the loop until just before the next grid instant
            time.sleep(next_beat(now, INTERVAL) - 0.02)
            looks[-1] = time.monotonic()  # (the look's figures are taken now)
        return {"pps_in": 1.0}

    await count_beats(run, "modbus", counters, 2.5, INTERVAL)
    return looks


def test_a_late_look_is_followed_by_one_at_least_half_an_interval_later() -> None:
    with tempfile.TemporaryDirectory(prefix="eo-") as run:
        looks = asyncio.run(_looks(Path(run)))
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(looks[1:])]
    assert len(gaps) >= 3, looks
    assert min(gaps) >= INTERVAL / 2, gaps
