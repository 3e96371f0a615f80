"""Error tracking: uncaught errors of every process with stack traces, in SQLite.

``system_logs.db`` in the data dir is bounded (row cap and retention). A crash loop
raises one row whose ``count`` grows, not a flood: the same instance and message
within ``dedupe_s`` updates the existing row.

The supervisor opens its store on demand (issue 16, RSS): the ``sqlite3`` module with
libsqlite3 and a connection cost ~1.4 MB of RSS in the process for good, and an idle
node without recent errors never reads the file. At start the validation helper opens
the file in its place (:func:`check_elsewhere`: integrity check, a corrupt file moved
aside, the schema set up) and answers the newest error's last occurrence; the
supervisor then connects on the first error recorded or listed, or on a count whose
window reaches that newest error (the Instances card's 24 h).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3

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


# Where the file is checked for a store opened on demand: the supervisor sets its
# ValidatorProcess.newest_error (None: open it here at once).
_elsewhere: Callable[[Path], int | None] | None = None


def check_elsewhere(check: Callable[[Path], int | None] | None) -> None:
    """Check the file of every on-demand store of this process through ``check(path)``,
    which answers as :func:`newest_error` (None: open every store here at once)."""
    global _elsewhere
    _elsewhere = check


def newest_error(path: Path) -> int | None:
    """Open the store at ``path`` (a corrupt file is moved aside, the schema set up):
    the last occurrence (ms) of its newest error, None when it has none."""
    store = ErrorStore(path)
    try:
        row = store.db.execute("SELECT MAX(last_ts) FROM errors").fetchone()
    finally:
        store.close()
    return None if row is None or row[0] is None else int(row[0])


def _setup(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)


class ErrorStore:
    def __init__(self, path: Path, max_rows: int = 10_000, retention_days: float = 30,
                 dedupe_s: float = 300, on_demand: bool = False) -> None:
        """``on_demand`` (the supervisor's): with a checker set (:func:`check_elsewhere`)
        the file is checked there now and connected to here only once needed."""
        self.path = path
        self._db: sqlite3.Connection | None = None
        # with no connection yet: the newest error's last occurrence (ms), None: none
        self._newest: int | None = None
        if on_demand and _elsewhere is not None:
            self._newest = _elsewhere(path)
        else:
            self._connect()
        self.max_rows = max_rows
        self.retention_ms = int(retention_days * 86_400_000)
        self.dedupe_ms = int(dedupe_s * 1000)
        # the last counts() answer: (window ms, asked at, valid until, counts). The
        # 1 Hz stats pass asks every second; the answer only changes when an error is
        # recorded or when the oldest one counted leaves the window.
        self._counts: tuple[int, int, float, dict[str, int]] | None = None

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, made on first use."""
        return self._db if self._db is not None else self._connect()

    def _connect(self) -> sqlite3.Connection:
        from edgeos.ipc.storage.sqlite import open_db

        self._db = open_db(self.path, _setup, isolation_level=None)
        return self._db

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
        if self._db is None and (self._newest is None or self._newest < now_ms - window_ms):
            return {}  # nothing in the window: the file need not be read
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
        if self._db is not None:
            self._db.close()
            self._db = None
