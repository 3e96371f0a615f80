"""The bridge's offline queue: messages waiting for the MQTT broker, on the shared
durable queue (:mod:`edgeos.ipc.storage.queue`: ordered, bounded, overflow counted,
survives restarts). Queues written by earlier versions (table ``outbox``) are taken
over in order on open."""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from edgeos.ipc.protocol import pack
from edgeos.ipc.storage.queue import DurableQueue


class Message(NamedTuple):
    topic: str
    payload: bytes
    retain: bool = True


class Row(NamedTuple):
    id: int
    topic: str
    payload: bytes
    retain: bool


class OfflineQueue(DurableQueue):
    """A bounded FIFO of :class:`Message` in an SQLite file."""

    def _setup(self, db: sqlite3.Connection) -> None:
        super()._setup(db)
        legacy = db.execute("SELECT name FROM sqlite_master WHERE type='table' AND "
                            "name='outbox'").fetchone()
        if legacy:
            with db:
                rows = db.execute("SELECT topic, payload, retain FROM outbox ORDER BY id")
                db.executemany("INSERT INTO queue (item) VALUES (?)",
                               [(pack([t, bytes(p), bool(r)]),) for t, p, r in rows])
                db.execute("DROP TABLE outbox")

    def _append(self, items: list[Message]) -> int:  # type: ignore[override]
        return super()._append([list(m) for m in items])

    def _peek(self, limit: int, hold: bool = False) -> list[Row]:  # type: ignore[override]
        return [Row(e.id, e.item[0], e.item[1], bool(e.item[2]))
                for e in super()._peek(limit, hold)]
