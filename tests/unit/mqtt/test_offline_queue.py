"""The bridge's SQLite offline queue: order, bound, persistence."""

from __future__ import annotations

import asyncio
from pathlib import Path

from edgeos.workers.mqtt_bridge.queue import Message, OfflineQueue


def messages(start: int, n: int) -> list[Message]:
    return [Message(f"t/{i % 3}", str(i).encode()) for i in range(start, start + n)]


def test_fifo_across_a_reopen(tmp_path: Path) -> None:
    async def main() -> None:
        q = OfflineQueue(tmp_path / "q.db", max_rows=1000)
        await q.open()
        await q.append(messages(0, 10))
        await q.append(messages(10, 5))
        rows = await q.peek(4)
        assert [r.payload for r in rows] == [b"0", b"1", b"2", b"3"]
        await q.delete_upto(rows[-1].id)
        assert q.size == 11
        await q.close()
        again = OfflineQueue(tmp_path / "q.db", max_rows=1000)
        await again.open()
        assert again.size == 11
        rows = await again.peek(100)
        assert [int(r.payload) for r in rows] == list(range(4, 15))
        assert all(r.retain for r in rows) and rows[0].topic == "t/1"
        await again.close()

    asyncio.run(main())


def test_full_queue_drops_the_oldest_and_counts(tmp_path: Path) -> None:
    async def main() -> None:
        q = OfflineQueue(tmp_path / "q.db", max_rows=10)
        await q.open()
        assert await q.append(messages(0, 8)) == 0
        assert await q.append(messages(8, 7)) == 5
        assert (q.size, q.dropped) == (10, 5)
        assert [int(r.payload) for r in await q.peek(100)] == list(range(5, 15))
        await q.close()

    asyncio.run(main())


def test_operations_apply_in_the_order_asked(tmp_path: Path) -> None:
    async def main() -> None:
        q = OfflineQueue(tmp_path / "q.db", max_rows=100_000)
        await q.open()
        appends = [asyncio.ensure_future(q.append(messages(i * 10, 10))) for i in range(50)]
        rows = await q.peek(1000)  # asked after every append: sees them all
        await asyncio.gather(*appends)
        assert [int(r.payload) for r in rows] == list(range(500))
        await q.close()

    asyncio.run(main())
