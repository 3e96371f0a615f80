"""A child without rates (the admin UI) looks at its counters once per ``heartbeat_s``
rather than each second: it wakes no more often than it beats, and still beats (over
the real supervisor link)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from tests.unit.ipc.beat_counter import count_beats


async def _scenario(run: Path, interval: float | None) -> tuple[int, int]:
    looks = 0

    def counters() -> dict[str, int]:
        nonlocal looks
        looks += 1
        return {"websockets": 0}

    beats = await count_beats(run, "admin-ui", counters, 2.5, interval)
    return looks, beats


def test_looks_once_per_heartbeat_s_when_told_and_still_beats() -> None:
    with tempfile.TemporaryDirectory(prefix="eo-") as run:
        looks, beats = asyncio.run(_scenario(Path(run), 1.0))
    assert 1 <= beats <= looks <= 4  # (by default: every 1/3 s, about 8 looks)
