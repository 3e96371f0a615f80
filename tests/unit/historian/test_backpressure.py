"""A writer that falls behind holds the change feed in its socket, not in the historian's
memory: the rows waiting for it stop growing at MAX_PENDING_ROWS, and once it has written
them the historian reads on and records every change."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from edgeos.ipc import protocol
from edgeos.ipc.historian import service

from tests.unit.historian.feed import historian_on_a_feed


def test_pending_rows_stop_at_the_cap_and_every_change_is_written_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "MAX_PENDING_ROWS", 1_000)

    async def scenario() -> tuple[int, bool, int]:
        async with historian_on_a_feed(tmp_path) as (h, pub):
            for n in range(50):  # 50 batches of 100 changes, 5,000 in all
                batch = [[f"p{i}", float(n), 1_000 + n] for i in range(100)]
                pub.send_multipart([b"sim.", protocol.pack(batch)])
            await asyncio.sleep(0.05)
            h._on_readable()
            held = len(h.rows)  # nothing was written yet: reading stopped at the cap
            paused = h.paused
            flusher = asyncio.create_task(h.flush_loop())  # writes at once: the cap woke it
            for _ in range(300):  # five writes of 1,000 rows, each followed by a read
                await asyncio.sleep(0.02)
                if not h.paused and not h.rows and h.changes.poll(0) == 0:
                    break
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
            await h.flush()
            written = h.store.conn.execute("SELECT count(*) FROM raw").fetchone()[0]
        return held, paused, written

    held, paused, written = asyncio.run(scenario())
    assert paused
    assert 1_000 <= held < 1_100  # the cap, plus at most the batch that crossed it
    assert written == 5_000
