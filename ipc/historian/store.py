"""``history.db``: the historian's SQLite file (WAL), written in one transaction a second.

Tables: ``series`` (id, name, kind: ``dp`` for datapoints, ``stat`` for instance
figures), ``raw`` (series, ts, value; rowid order is arrival order, so the oldest rows
are the lowest rowids), ``rollup`` (per series and bucket of ``rollup_s``: min, avg, max,
last, n), ``counters`` (what was recorded, expired and evicted, kept across restarts)
and ``info`` (the rollup width, for readers).

Rollups are computed from ``raw`` for buckets that received rows once the bucket is
over, in the same transaction as the rows, so a kill -9 never leaves a rollup behind
its raw rows; after a restart the buckets from the last rollup on are recomputed.
Retention deletes raw rows older than ``raw_days`` (never ones not rolled up yet) and
rollups older than ``rollup_days``; the size cap evicts the oldest rows first (raw or
rollup, whichever is older). Both are counted. A file SQLite calls corrupt is moved aside as
``history.db.corrupt-<timestamp>`` and a fresh one started.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from itertools import chain
from operator import itemgetter
from pathlib import Path

from edgeos.ipc.historian.settings import Settings

log = logging.getLogger("historian")

FILE = "history.db"
SCHEMA = """
CREATE TABLE IF NOT EXISTS series(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
                                  kind TEXT NOT NULL DEFAULT 'dp');
CREATE TABLE IF NOT EXISTS raw(series INTEGER NOT NULL, ts INTEGER NOT NULL,
                               value REAL NOT NULL);
CREATE INDEX IF NOT EXISTS raw_series_ts ON raw(series, ts);
CREATE TABLE IF NOT EXISTS rollup(series INTEGER NOT NULL, ts INTEGER NOT NULL, min REAL,
                                  avg REAL, max REAL, last REAL, n INTEGER NOT NULL,
                                  PRIMARY KEY(series, ts));
CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS info(name TEXT PRIMARY KEY, value);
"""
ROLLUP_SQL = """
INSERT OR REPLACE INTO rollup(series, ts, min, avg, max, last, n)
SELECT ?1, ?2, min(value), avg(value), max(value),
       (SELECT value FROM raw WHERE series = ?1 AND ts >= ?2 AND ts < ?3
        ORDER BY ts DESC, rowid DESC LIMIT 1), count(*)
FROM raw WHERE series = ?1 AND ts >= ?2 AND ts < ?3 HAVING count(*) > 0
"""
CORRUPT_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
ROLLUPS_PER_FLUSH = 20_000  # bounds one transaction; the rest waits for the next second
EVICT_MIN_ROWS = 500
# rows per INSERT statement: one statement step carries 1,000 rows instead of one (the
# per-row step, reset and bind calls were most of a change's cost: 1.5x rows per CPU s)
INSERT_ROWS = 1000
INSERT_MANY = ("INSERT INTO raw(series, ts, value) VALUES "
               + ", ".join(["(?, ?, ?)"] * INSERT_ROWS))
INSERT_ONE = "INSERT INTO raw(series, ts, value) VALUES (?, ?, ?)"
WAL_CHECKPOINT_PAGES = 4000


def is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code in CORRUPT_CODES or "malformed" in str(exc) or "not a database" in str(exc)


class Batch:
    """Rows made ready for :meth:`HistoryStore.write`: sorted by series, flattened into
    statement parameters, and the rollup buckets they fall in. Pure Python, no database:
    the historian builds it in its event loop while the writer thread runs SQLite (the
    two threads share the work; the writer was the busier one)."""

    __slots__ = ("buckets", "count", "flat")

    def __init__(self, rows: list[tuple[int, int, float]], rollup_ms: int) -> None:
        # by series: each series' index pages are touched once (4x faster than arrival
        # order); stable, so a series' rows stay in arrival order (ts order)
        rows.sort(key=itemgetter(0))
        self.count = len(rows)
        self.flat = list(chain.from_iterable(rows))
        # a set built from the rows costs half of asking SQLite (a DISTINCT over the new
        # rows sorts them once more)
        self.buckets = {(sid, ts - ts % rollup_ms) for sid, ts, _ in rows}


class HistoryStore:
    """The writer. One per data dir (the historian process)."""

    def __init__(self, data_dir: Path | str, settings: Settings) -> None:
        self.path = Path(data_dir) / FILE
        self.settings = settings
        self.ids: dict[str, int] = {}
        self.kinds: dict[int, str] = {}
        self.dirty: set[tuple[int, int]] = set()
        self.counters: dict[str, int] = {}
        self.conn = self._open()

    # -- opening -------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        """Open (or create) the file; a corrupt one is moved aside and started fresh."""
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            if not is_corrupt(exc):
                raise
            self.move_aside(exc)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            if fresh:
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
                conn.execute("PRAGMA page_size=8192")  # fewer index pages per row: -10 %
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL: a process crash loses nothing
            # a checkpoint every 32 MB of WAL, not 4 MB: the index pages a second's rows
            # touch are mostly the same each second and go to the file once per checkpoint
            conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
            conn.execute(f"PRAGMA journal_size_limit={WAL_CHECKPOINT_PAGES * 8192}")
            conn.execute("PRAGMA cache_size=-32768")  # 32 MiB: the index's hot pages stay
            conn.executescript(SCHEMA)
            conn.execute("INSERT OR REPLACE INTO info(name, value) VALUES ('rollup_ms', ?)",
                         (self.settings.rollup_ms,))
            for name in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(f"{self.path}{name}", 0o600)
            self.ids, self.kinds, self.new_series = {}, {}, []
            for sid, name, kind in conn.execute("SELECT id, name, kind FROM series"):
                self.ids[name] = sid
                self.kinds[sid] = kind
            self.next_id = max(self.kinds, default=0) + 1
            self.counters = dict(conn.execute("SELECT name, value FROM counters").fetchall())
            self.dirty = self._unfinished_buckets(conn)
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _unfinished_buckets(self, conn: sqlite3.Connection) -> set[tuple[int, int]]:
        """Buckets with raw rows newer than the series' last rollup (after a crash)."""
        width = self.settings.rollup_ms
        done = dict(conn.execute("SELECT series, max(ts) FROM rollup GROUP BY series"))
        dirty: set[tuple[int, int]] = set()
        for sid in list(self.kinds):
            since = done.get(sid, -(2**62))
            for (bucket,) in conn.execute(
                    "SELECT DISTINCT ts / ?1 * ?1 FROM raw WHERE series = ?2 AND ts >= ?3",
                    (width, sid, since)):
                dirty.add((sid, bucket))
        return dirty

    def move_aside(self, exc: BaseException) -> Path:
        """Keep a corrupt file for inspection and let a fresh one take its place."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = self.path.with_name(f"{FILE}.corrupt-{stamp}")
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.path, target)
        for name in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.replace(f"{self.path}{name}", f"{target}{name}")
        log.error("history database %s is corrupt (%s): moved aside to %s; starting a "
                  "fresh history", self.path, exc, target.name)
        return target

    def recover(self, exc: BaseException) -> None:
        """A corruption found while running: close, move aside, reopen empty."""
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()
        self.move_aside(exc)
        self.conn = self._connect()
        self.count("corrupt_recovered")

    # -- writing -------------------------------------------------------------------------
    def series_id(self, name: str, kind: str = "dp") -> int:
        """The id of a series; a new one is numbered here and stored with the next write,
        so the event loop never waits for the database (writes may run in a thread)."""
        sid = self.ids.get(name)
        if sid is None:
            sid = self.next_id
            self.next_id += 1
            self.ids[name] = sid
            self.kinds[sid] = kind
            self.new_series.append((sid, name, kind))
        return sid

    def take_series(self) -> list[tuple[int, str, str]]:
        """The series numbered since the last write (handed to :meth:`write`)."""
        series, self.new_series = self.new_series, []
        return series

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def write(self, rows: Batch | list[tuple[int, int, float]], now_ms: int,
              series: list[tuple[int, str, str]] | None = None) -> None:
        """One transaction: new series, the rows, the rollups of finished buckets, the
        counters. ``series`` is :meth:`take_series` taken by the caller's thread."""
        batch = rows if isinstance(rows, Batch) else Batch(rows, self.settings.rollup_ms)
        if series is None:
            series = self.take_series()
        dirty = self.dirty
        conn = self.conn
        conn.execute("BEGIN")
        try:
            if series:
                conn.executemany("INSERT INTO series(id, name, kind) VALUES (?, ?, ?)", series)
            if batch.count:
                self._insert(batch.flat)
                dirty.update(batch.buckets)
            done = self._rollup(now_ms)
            self.count("recorded", batch.count)
            self._commit()
        except BaseException:
            self._rollback()
            self.new_series[:0] = series  # stored with the next write
            self.count("recorded", -batch.count)
            raise
        dirty.difference_update(done)
        if self.used_bytes() > self.settings.max_bytes:
            self.enforce_cap()

    def _insert(self, flat: list[int | float]) -> None:
        """Rows ``series, ts, value, ...`` in order, :data:`INSERT_ROWS` to a statement
        (the rest one by one)."""
        step = 3 * INSERT_ROWS
        whole = len(flat) - len(flat) % step
        self.conn.executemany(INSERT_MANY, (flat[n:n + step] for n in range(0, whole, step)))
        self.conn.executemany(INSERT_ONE, (flat[n:n + 3] for n in range(whole, len(flat), 3)))

    def _commit(self) -> None:
        """Commit the open transaction with the counters as they are now (one write)."""
        self.conn.executemany("INSERT OR REPLACE INTO counters(name, value) VALUES (?, ?)",
                              list(self.counters.items()))
        self.conn.execute("COMMIT")

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")

    def _rollup(self, now_ms: int) -> list[tuple[int, int]]:
        width = self.settings.rollup_ms
        finished = sorted(k for k in self.dirty if k[1] + width <= now_ms)[:ROLLUPS_PER_FLUSH]
        self.conn.executemany(ROLLUP_SQL, [(sid, start, start + width)
                                           for sid, start in finished])
        return finished

    # -- retention and the size cap ------------------------------------------------------
    def expire(self, now_ms: int) -> int:
        """Delete what is past its retention; never raw rows whose bucket is not rolled up."""
        s = self.settings
        oldest_dirty = min((b for _, b in self.dirty), default=now_ms)
        deleted = 0
        conn = self.conn
        conn.execute("BEGIN")
        try:
            for sid, kind in list(self.kinds.items()):
                raw_keep, roll_keep = ((s.stat_raw_keep_ms, s.stat_rollup_keep_ms)
                                       if kind == "stat" else (s.raw_keep_ms, s.rollup_keep_ms))
                cut = min(now_ms - raw_keep, oldest_dirty)
                deleted += conn.execute("DELETE FROM raw WHERE series = ? AND ts < ?",
                                        (sid, cut)).rowcount
                deleted += conn.execute("DELETE FROM rollup WHERE series = ? AND ts < ?",
                                        (sid, now_ms - roll_keep)).rowcount
            self.count("expired", deleted)
            self._commit()
        except BaseException:
            self._rollback()
            raise
        if deleted:
            conn.execute("PRAGMA incremental_vacuum")
        return deleted

    def used_bytes(self) -> int:
        conn = self.conn
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        return int((pages - free) * conn.execute("PRAGMA page_size").fetchone()[0])

    def enforce_cap(self) -> int:
        """Evict the oldest rows (raw or rollup, whichever is older) until under ``max_mb``."""
        cap = self.settings.max_bytes
        evicted = 0
        while self.used_bytes() > cap:
            oldest = []
            for table in ("raw", "rollup"):
                row = self.conn.execute(f"SELECT rowid, ts FROM {table} ORDER BY rowid LIMIT 1"
                                        ).fetchone()
                if row is not None:
                    oldest.append((row[1], table, row[0]))
            if not oldest:
                break
            _, table, lo = min(oldest)
            hi = self.conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0]
            upto = lo + max(EVICT_MIN_ROWS, (hi - lo) // 10)
            evicted += self.conn.execute(f"DELETE FROM {table} WHERE rowid < ?",
                                         (upto,)).rowcount
        if evicted:
            self.count("evicted", evicted)
            self.conn.executemany("INSERT OR REPLACE INTO counters(name, value) VALUES (?, ?)",
                                  list(self.counters.items()))
            self.conn.execute("PRAGMA incremental_vacuum")
            log.warning("history over its size cap of %g MB: evicted the %d oldest rows",
                        self.settings.max_mb, evicted)
        return evicted

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()
