"""Error tracking: uncaught errors of every process with stack traces, in SQLite.

``system_logs.db`` in the data dir is bounded (row cap and retention). A crash loop
raises one row whose ``count`` grows, not a flood: the same instance and message
within ``dedupe_s`` updates the existing row.
"""

from __future__ import annotations

import math
import sqlite3
import time
from pathlib import Path
from typing import Any

from edgeos.ipc.storage.sqlite import open_db

SCHEMA = """
CREATE TABLE IF NOT EXISTS errors (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,          -- first occurrence, ms
    last_ts INTEGER NOT NULL,     -- last occurrence, ms
    count INTEGER NOT NULL DEFAULT 1,
    instance TEXT NOT NULL,
    type TEXT,
    message TEXT NOT NULL,
    traceback TEXT,
    fatal INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS errors_instance ON errors(instance, last_ts);
"""

WINDOW_S = 86_400  # the window of the errors count the Instances card and Errors page share
MAX_MESSAGE = 4096  # characters kept of an error's message
MAX_TRACEBACK = 65536  # and of its traceback (the end, where the error is)


def _setup(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)


class ErrorStore:
    def __init__(self, path: Path, max_rows: int = 10_000, retention_days: float = 30,
                 dedupe_s: float = 300) -> None:
        self.db = open_db(path, _setup, isolation_level=None)
        self.max_rows = max_rows
        self.retention_ms = int(retention_days * 86_400_000)
        self.dedupe_ms = int(dedupe_s * 1000)
        # the last counts() answer: (window ms, asked at, valid until, counts). The
        # 1 Hz stats pass asks every second; the answer only changes when an error is
        # recorded or when the oldest one counted leaves the window.
        self._counts: tuple[int, int, float, dict[str, int]] | None = None

    def add(self, instance: str, type_name: str | None, message: str,
            traceback: str | None, fatal: bool, ts: int | None = None) -> tuple[int, bool]:
        """Record one error; returns its row id and whether it is new (not a repeat)."""
        ts = ts or int(time.time() * 1000)
        message = message[:MAX_MESSAGE]  # bounded, whatever a child sends
        traceback = traceback[-MAX_TRACEBACK:] if traceback else traceback
        self._counts = None
        row = self.db.execute(
            "SELECT id FROM errors WHERE instance=? AND message=? AND last_ts>=? "
            "ORDER BY last_ts DESC LIMIT 1", (instance, message, ts - self.dedupe_ms)).fetchone()
        if row:
            self.db.execute("UPDATE errors SET count=count+1, last_ts=?, traceback=? WHERE id=?",
                            (ts, traceback, row[0]))
            return int(row[0]), False
        cur = self.db.execute(
            "INSERT INTO errors(ts, last_ts, instance, type, message, traceback, fatal) "
            "VALUES (?,?,?,?,?,?,?)", (ts, ts, instance, type_name, message, traceback, fatal))
        self._trim(ts)
        return int(cur.lastrowid or 0), True

    def _trim(self, now: int) -> None:
        self.db.execute("DELETE FROM errors WHERE last_ts < ?", (now - self.retention_ms,))
        self.db.execute("DELETE FROM errors WHERE id <= (SELECT id FROM errors ORDER BY id DESC "
                        "LIMIT 1 OFFSET ?)", (self.max_rows,))

    def recent(self, instance: str | None = None, n: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT id, ts, last_ts, count, instance, type, message, traceback, fatal FROM errors"
        args: tuple[Any, ...] = ()
        if instance:
            sql += " WHERE instance=?"
            args = (instance,)
        rows = self.db.execute(sql + " ORDER BY last_ts DESC LIMIT ?", (*args, n)).fetchall()
        keys = ("id", "ts", "last_ts", "count", "instance", "type", "message", "traceback",
                "fatal")
        return [dict(zip(keys, r, strict=True)) | {"fatal": bool(r[8])} for r in rows]

    def counts(self, now_ms: int | None = None,
               window_s: float = WINDOW_S) -> dict[str, int]:
        """Errors per instance seen within the window (a repeated error counts each time):
        the one figure the Instances card and the Errors page both show."""
        now_ms = now_ms or int(time.time() * 1000)
        window_ms = int(window_s * 1000)
        cached = self._counts
        if cached is not None and cached[0] == window_ms and cached[1] <= now_ms <= cached[2]:
            return dict(cached[3])
        rows = self.db.execute("SELECT instance, SUM(count), MIN(last_ts) FROM errors "
                               "WHERE last_ts >= ? GROUP BY instance",
                               (now_ms - window_ms,)).fetchall()
        counts = {str(r[0]): int(r[1]) for r in rows}
        until = min((int(r[2]) for r in rows), default=None)
        self._counts = (window_ms, now_ms, math.inf if until is None else until + window_ms,
                        counts)
        return dict(counts)

    def close(self) -> None:
        self.db.close()
