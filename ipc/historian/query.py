"""Reading ``history.db``: a series over a time range, downsampled on the database side.

A series comes back as at most ``max_points`` points ``[ts_ms, min, avg, max, last]``.
When the range holds no more stored points than that, they come back as stored (a raw
row is ``[ts, v, v, v, v]``, ``"raw": true``); otherwise the range is cut into
``max_points`` equal buckets and each keeps its min and max, so a one-sample spike
survives any zoom level. Older parts of the range come from the rollups (raw rows
past their retention are gone), newer parts from the raw rows; when the buckets are at
least a rollup wide, the rollups answer wherever they exist (a rollup counts in the
bucket its start falls in).

Readers open the file read-only (``mode=ro``); WAL lets them read while the historian
writes, and a file replaced after corruption is picked up by the next query.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgeos.ipc.historian.store import FILE

Point = list[float | int | None]

# buckets of width ?4 counted from the range's start ?5 (the same for both sources, so
# the raw rows after the rollups fall in their own buckets), over [?2, ?3)
RAW_BUCKETS = """
SELECT b, mn, total, mx, n,
       (SELECT value FROM raw WHERE series = ?1 AND ts = lt ORDER BY rowid DESC LIMIT 1)
       AS lastv
FROM (SELECT (ts - ?5) / ?4 AS b, min(value) AS mn, sum(value) AS total, max(value) AS mx,
             count(*) AS n, max(ts) AS lt
      FROM raw WHERE series = ?1 AND ts >= ?2 AND ts < ?3 GROUP BY b)
"""
ROLLUP_BUCKETS = """
SELECT b, mn, total, mx, n, (SELECT last FROM rollup WHERE series = ?1 AND ts = lt) AS lastv
FROM (SELECT (ts - ?5) / ?4 AS b, min(min) AS mn, sum(avg * n) AS total, max(max) AS mx,
             sum(n) AS n, max(ts) AS lt
      FROM rollup WHERE series = ?1 AND ts >= ?2 AND ts < ?3 GROUP BY b)
"""
# the answer's points from one source, shaped in SQLite (no Python pass over the buckets)
POINTS = "SELECT ?5 + b * ?4, mn, total / n, mx, lastv FROM ({}) ORDER BY b"


class NoHistory(LookupError):
    """The database does not exist (yet) or knows no such series."""


def connect(data_dir: Path | str) -> sqlite3.Connection:
    """A read-only connection; :class:`NoHistory` when the historian has not made the file."""
    path = Path(data_dir) / FILE
    if not path.exists():
        raise NoHistory("no history recorded yet (is the historian running?)")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    conn.execute("PRAGMA query_only=1")
    return conn


def series_id(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT id FROM series WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NoHistory(f"no history for {name!r}")
    return int(row[0])


def _raw_start(conn: sqlite3.Connection, sid: int) -> int | None:
    row = conn.execute("SELECT min(ts) FROM raw WHERE series = ?", (sid,)).fetchone()
    return None if row[0] is None else int(row[0])


def _rollup_ms(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT value FROM info WHERE name = 'rollup_ms'").fetchone()
    return None if row is None else int(row[0])


def _split(conn: sqlite3.Connection, sid: int, start: int, end: int,
           max_points: int) -> tuple[int, int]:
    """Where the range turns from rollups to raw rows: ``(split, roll_end)``, raw rows from
    ``split`` on and rollups starting before ``roll_end``. The split is where raw rows
    start, or, when a bucket of the answer is at least a rollup wide, where the rollups
    end (a day at 1 Hz is then read as 1,440 rollups, not 86,400 rows). A rollup whose
    bucket holds the first raw rows is left out: its values would come twice, the
    rollup's at the bucket's start, before any stored value."""
    raw_from = _raw_start(conn, sid)
    split = end if raw_from is None else max(start, min(end, raw_from))
    width = _rollup_ms(conn)
    roll_end = split - split % width if width and raw_from is not None else split
    if width and (end - start) / max_points >= width:
        row = conn.execute("SELECT max(ts) FROM rollup WHERE series = ? AND ts < ?",
                           (sid, end)).fetchone()
        if row[0] is not None:
            split = roll_end = max(split, min(end, int(row[0]) + width))
    return split, roll_end


def series(conn: sqlite3.Connection, name: str, start: int, end: int,
           max_points: int) -> dict[str, Any]:
    """The series ``name`` over ``[start, end)`` (ms), at most ``max_points`` points."""
    sid = series_id(conn, name)
    split, roll_end = _split(conn, sid, start, end, max_points)
    n_roll = conn.execute("SELECT count(*) FROM rollup WHERE series = ? AND ts >= ? "
                          "AND ts < ?", (sid, start, roll_end)).fetchone()[0]
    n_raw = conn.execute("SELECT count(*) FROM raw WHERE series = ? AND ts >= ? AND ts < ?",
                         (sid, split, end)).fetchone()[0]
    before = conn.execute("SELECT ts, value FROM raw WHERE series = ? AND ts < ? "
                          "ORDER BY ts DESC LIMIT 1", (sid, start)).fetchone()
    doc: dict[str, Any] = {"address": name, "from": start, "to": end,
                           "max_points": max_points, "before": list(before) if before else None}
    if n_roll + n_raw <= max_points:
        points: list[Point] = [list(r) for r in conn.execute(
            "SELECT ts, min, avg, max, last FROM rollup WHERE series = ? AND ts >= ? "
            "AND ts < ? ORDER BY ts", (sid, start, roll_end))]
        points += [[ts, v, v, v, v] for ts, v in conn.execute(
            "SELECT ts, value FROM raw WHERE series = ? AND ts >= ? AND ts < ? ORDER BY ts",
            (sid, split, end))]
        return {**doc, "raw": n_roll == 0, "bucket_ms": None, "points": points}
    width = max(1, -(-(end - start) // max_points))
    parts = [(sql, lo, hi) for sql, n, lo, hi in ((ROLLUP_BUCKETS, n_roll, start, roll_end),
                                                  (RAW_BUCKETS, n_raw, split, end)) if n]
    if len(parts) == 1:  # the usual case
        sql, lo, hi = parts[0]
        points = [list(r) for r in conn.execute(POINTS.format(sql), (sid, lo, hi, width, start))]
        return {**doc, "raw": False, "bucket_ms": width, "points": points}
    buckets: dict[int, list[Any]] = {}
    for sql, lo, hi in parts:
        for b, mn, total, mx, count, last in conn.execute(sql, (sid, lo, hi, width, start)):
            have = buckets.get(b)
            if have is None:
                buckets[b] = [mn, total, mx, count, last]
            else:  # a bucket on the rollup/raw border: the raw part is the later one
                have[0], have[1] = min(have[0], mn), have[1] + total
                have[2], have[3], have[4] = max(have[2], mx), have[3] + count, last
    points = [[start + b * width, mn, total / count, mx, last]
              for b, (mn, total, mx, count, last) in sorted(buckets.items())]
    return {**doc, "raw": False, "bucket_ms": width, "points": points}


def raw_rows(conn: sqlite3.Connection, name: str, start: int, end: int,
             limit: int) -> Iterator[tuple[int, float]]:
    """Every stored raw point of a series in the range, oldest first (for CSV export)."""
    sid = series_id(conn, name)
    yield from conn.execute("SELECT ts, value FROM raw WHERE series = ? AND ts >= ? AND ts < ? "
                            "ORDER BY ts LIMIT ?", (sid, start, end, limit))


def stats(conn: sqlite3.Connection, path: Path | None = None) -> dict[str, Any]:
    """The historian's counters (recorded, expired, evicted...), sizes and series count."""
    counters = dict(conn.execute("SELECT name, value FROM counters").fetchall())
    series_n = conn.execute("SELECT kind, count(*) FROM series GROUP BY kind").fetchall()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    oldest = conn.execute("SELECT min(ts) FROM raw").fetchone()[0]
    return {"counters": counters, "series": dict(series_n),
            "db_bytes": pages * page_size, "oldest_raw_ts": oldest}
