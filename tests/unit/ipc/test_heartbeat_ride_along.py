"""A child's own totals ride along over the real supervisor link: a total growing at
every look (``packets_recv`` in ``bus``, as every device worker reports) sends nothing
between the period's beats, a new error count still beats at once (ipc/heartbeat.py)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from edgeos.workers.runtime import TRAFFIC_TOTALS

from tests.unit.ipc.beat_counter import count_beats

LOOK_S = 0.1


async def _beats(run: Path, ride_along: frozenset[str], error_at: int | None) -> int:
    looks = 0

    def counters() -> dict[str, Any]:
        nonlocal looks
        looks += 1
        errors = int(error_at is not None and looks >= error_at)
        return {"pps_in": 0.0, "error_count": errors,
                "bus": {"packets_recv": 100 * looks, "packets_sent": 100 * looks}}

    return await count_beats(run, "modbus", counters, 2.0, LOOK_S, ride_along)


def run(ride_along: frozenset[str], error_at: int | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="eo-") as tmp:
        return asyncio.run(_beats(Path(tmp), ride_along, error_at))


def test_growing_totals_ride_along_an_error_still_beats_at_once() -> None:
    # 20 looks over 2 s, heartbeat_s 1: the period's beats only (2 or 3)
    assert 2 <= run(TRAFFIC_TOTALS) <= 3
    assert 3 <= run(TRAFFIC_TOTALS, error_at=5) <= 4  # one more, for the error
    assert run(frozenset()) >= 8  # compared like counts, the totals beat at most looks
