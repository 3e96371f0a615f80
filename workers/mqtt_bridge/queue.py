"""The bridge's offline queue: messages waiting for the MQTT broker, in SQLite.

Rows keep their order (an autoincrement id) and survive a restart of the bridge or the
whole device. The queue is bounded: when it is full the oldest rows go first (the newest
state is the one worth keeping) and every row dropped that way is counted.

All SQLite work runs on one dedicated thread, so the event loop never waits on the disk
and operations apply in the order they were asked for.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from edgeos.ipc.storage.sqlite import open_db

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL
)"""


def _setup(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(SCHEMA)
    db.commit()


class Message(NamedTuple):
    topic: str
    payload: bytes
    retain: bool = True


class Row(NamedTuple):
    id: int
    topic: str
    payload: bytes
    retain: bool


class OfflineQueue:
    """A bounded FIFO of :class:`Message` in an SQLite file."""

    def __init__(self, path: Path, max_rows: int) -> None:
        self.path = path
        self.max_rows = max_rows
        self.size = 0  # rows on disk; written by the queue's thread, read anywhere
        self.dropped = 0  # rows given up to stay within max_rows
        self._db: sqlite3.Connection | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="offline-queue")

    def _run(self, fn: Any, *args: Any) -> asyncio.Future[Any]:
        # run_in_executor submits right away, so the order of calls is the order of work
        return asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # -- on the queue's thread -------------------------------------------------------
    def _open(self) -> None:
        db = open_db(self.path, _setup)
        self._db = db
        self.size = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def _append(self, messages: list[Message]) -> int:
        assert self._db is not None
        with self._db:
            self._db.executemany("INSERT INTO outbox (topic, payload, retain) VALUES (?,?,?)",
                                 [(m.topic, m.payload, int(m.retain)) for m in messages])
            self.size += len(messages)
            over = self.size - self.max_rows
            if over > 0:
                cur = self._db.execute(
                    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)",
                    (over,))
                self.size -= cur.rowcount
                self.dropped += cur.rowcount
                return cur.rowcount
        return 0

    def _peek(self, limit: int) -> list[Row]:
        assert self._db is not None
        rows = self._db.execute("SELECT id, topic, payload, retain FROM outbox ORDER BY id "
                                "LIMIT ?", (limit,))
        return [Row(i, t, bytes(p), bool(r)) for i, t, p, r in rows]

    def _delete_upto(self, last_id: int) -> None:
        assert self._db is not None
        with self._db:
            cur = self._db.execute("DELETE FROM outbox WHERE id <= ?", (last_id,))
            self.size -= cur.rowcount

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- from the event loop: each call is queued at once, await the result if needed ---
    def open(self) -> asyncio.Future[None]:
        return self._run(self._open)

    def append(self, messages: list[Message]) -> asyncio.Future[int]:
        """Queue ``messages`` behind what is there; resolves to how many old rows were
        dropped to stay within ``max_rows``."""
        return self._run(self._append, messages)

    def peek(self, limit: int) -> asyncio.Future[list[Row]]:
        """The oldest ``limit`` rows, without removing them."""
        return self._run(self._peek, limit)

    def delete_upto(self, last_id: int) -> asyncio.Future[None]:
        """Forget every row up to ``last_id`` (delivered)."""
        return self._run(self._delete_upto, last_id)

    async def close(self) -> None:
        await self._run(self._close)
        self._pool.shutdown(wait=False)
