"""A durable, bounded FIFO in an SQLite file, shared by every process that must not
lose what waits to be delivered (the MQTT bridge's offline queue, the webhook worker's
deliveries; issue 17 item 15).

Items are msgpack-able values, kept in order (an autoincrement id), and survive a
restart of the process or the device. Delivery is at-least-once: the consumer peeks,
delivers, then deletes up to the last id it delivered, so a crash between the two
delivers that item again rather than losing it. When the queue is full the oldest rows
go first (the newest state is the one worth keeping) and every row dropped that way is
counted. The file is opened through :func:`~edgeos.ipc.storage.sqlite.open_db`, so a
corrupt one is moved aside and started fresh.

All SQLite work runs on one dedicated thread, so the event loop never waits on the disk
and operations apply in the order they were asked for.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from edgeos.ipc.protocol import pack, unpack
from edgeos.ipc.storage.sqlite import open_db

SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item BLOB NOT NULL
)"""


class Entry(NamedTuple):
    id: int
    item: Any


class DurableQueue:
    """A bounded FIFO of msgpack-able items in an SQLite file."""

    def __init__(self, path: Path, max_rows: int, name: str = "durable-queue") -> None:
        self.path = path
        self.max_rows = max_rows
        self.size = 0  # rows on disk; written by the queue's thread, read anywhere
        self.dropped = 0  # rows given up to stay within max_rows
        self._held = (0, 0)  # (last id, rows) the consumer is delivering: never dropped
        self._db: sqlite3.Connection | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def _run(self, fn: Any, *args: Any) -> asyncio.Future[Any]:
        # run_in_executor submits right away, so the order of calls is the order of work
        return asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # -- on the queue's thread -------------------------------------------------------
    def _setup(self, db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(SCHEMA)
        db.commit()

    def _open(self) -> None:
        self._db = open_db(self.path, self._setup)
        self.size = self._db.execute("SELECT COUNT(*) FROM queue").fetchone()[0]

    def _append(self, items: list[Any]) -> int:
        assert self._db is not None
        with self._db:
            self._db.executemany("INSERT INTO queue (item) VALUES (?)",
                                 [(pack(item),) for item in items])
            self.size += len(items)
            held_id, held_rows = self._held
            over = self.size - held_rows - self.max_rows
            if over > 0:
                cur = self._db.execute(
                    "DELETE FROM queue WHERE id IN (SELECT id FROM queue WHERE id > ? "
                    "ORDER BY id LIMIT ?)", (held_id, over))
                self.size -= cur.rowcount
                self.dropped += cur.rowcount
                return cur.rowcount
        return 0

    def _peek(self, limit: int, hold: bool = False) -> list[Entry]:
        assert self._db is not None
        rows = self._db.execute("SELECT id, item FROM queue ORDER BY id LIMIT ?", (limit,))
        entries = [Entry(i, unpack(bytes(blob))) for i, blob in rows]
        if hold and entries:
            self._held = (entries[-1].id, len(entries))
        return entries

    def _delete_upto(self, last_id: int) -> None:
        assert self._db is not None
        with self._db:
            cur = self._db.execute("DELETE FROM queue WHERE id <= ?", (last_id,))
            self.size -= cur.rowcount
        if last_id >= self._held[0]:
            self._held = (0, 0)

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- from the event loop: each call is queued at once, await the result if needed ---
    def open(self) -> asyncio.Future[None]:
        return self._run(self._open)

    def append(self, items: list[Any]) -> asyncio.Future[int]:
        """Queue ``items`` behind what is there; resolves to how many old rows were
        dropped to stay within ``max_rows``."""
        return self._run(self._append, items)

    @property
    def waiting(self) -> int:
        """Rows not yet handed to the consumer."""
        return self.size - self._held[1]

    def peek(self, limit: int, hold: bool = False) -> asyncio.Future[list[Entry]]:
        """The oldest ``limit`` entries, without removing them. With ``hold`` they are
        being delivered: overflow never drops them and they do not count against
        ``max_rows`` until :meth:`delete_upto` forgets them."""
        return self._run(self._peek, limit, hold)

    def delete_upto(self, last_id: int) -> asyncio.Future[None]:
        """Forget every row up to ``last_id`` (delivered)."""
        return self._run(self._delete_upto, last_id)

    async def close(self) -> None:
        await self._run(self._close)
        self._pool.shutdown(wait=False)
