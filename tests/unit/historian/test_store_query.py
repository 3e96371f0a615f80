"""history.db on a real SQLite file: rows, rollups, retention, size cap, corruption,
and the downsampling queries the API serves."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from edgeos.ipc.historian import query
from edgeos.ipc.historian.settings import Settings
from edgeos.ipc.historian.store import INSERT_ROWS, HistoryStore

T0 = 1_700_000_040_000  # on a minute boundary


def store(tmp_path: Path, **settings: Any) -> HistoryStore:
    return HistoryStore(tmp_path, Settings.from_dict(settings))


def fill(s: HistoryStore, name: str, values: list[float], step_ms: int = 1000,
         start: int = T0) -> int:
    sid = s.series_id(name)
    rows = [(sid, start + n * step_ms, v) for n, v in enumerate(values)]
    s.write(rows, start + len(values) * step_ms + 120_000)
    return sid


def test_downsampling_keeps_a_one_sample_spike(tmp_path: Path) -> None:
    s = store(tmp_path)
    values = [20.0] * 86_400
    values[40_000] = 95.0
    values[60_000] = -5.0
    fill(s, "plc.temp", values)
    with query.connect(tmp_path) as conn:
        doc = query.series(conn, "plc.temp", T0, T0 + 86_400_000, 1000)
    assert not doc["raw"] and len(doc["points"]) <= 1000
    assert max(p[3] for p in doc["points"]) == 95.0
    assert min(p[1] for p in doc["points"]) == -5.0
    spike = next(p for p in doc["points"] if p[3] == 95.0)
    assert spike[0] <= T0 + 40_000_000 < spike[0] + doc["bucket_ms"]


def test_few_points_come_back_as_stored(tmp_path: Path) -> None:
    s = store(tmp_path)
    fill(s, "a", [1.0, 2.0, 3.0])
    with query.connect(tmp_path) as conn:
        doc = query.series(conn, "a", T0 + 500, T0 + 10_000, 100)
        assert doc["raw"] and doc["points"] == [[T0 + 1000, 2.0, 2.0, 2.0, 2.0],
                                                [T0 + 2000, 3.0, 3.0, 3.0, 3.0]]
        assert doc["before"] == [T0, 1.0]
        with pytest.raises(query.NoHistory):
            query.series(conn, "nope", T0, T0 + 1, 10)


def test_a_series_starting_within_a_minute_comes_back_once(tmp_path: Path) -> None:
    """The first minute, rolled up, is not answered twice (a rollup point at the
    minute's start, before any stored value, and the raw rows)."""
    s = store(tmp_path)
    start = T0 + 41_352
    fill(s, "v", [1.0, 2.0, 3.0, 4.0], step_ms=10_000, start=start)
    with query.connect(tmp_path) as conn:
        assert conn.execute("SELECT count(*) FROM rollup").fetchone()[0] == 2
        doc = query.series(conn, "v", T0 - 3_600_000, T0 + 3_600_000, 1000)
        assert doc["raw"] and [p[0] for p in doc["points"]] == [start + n * 10_000
                                                                for n in range(4)]
        wide = query.series(conn, "v", T0 - 86_400_000, T0 + 3_600_000, 100)
    assert not wide["raw"] and sum(1 for p in wide["points"] if p[3] == 4.0) == 1


def test_rollups_answer_where_raw_rows_expired_and_expiry_is_counted(tmp_path: Path) -> None:
    s = store(tmp_path, raw_days=1, rollup_s=60)
    sid = fill(s, "m", [float(n % 60) for n in range(3 * 86_400 // 10)], step_ms=10_000)
    now = T0 + 3 * 86_400_000
    expired = s.expire(now)
    assert expired > 0 and s.counters["expired"] == expired
    with query.connect(tmp_path) as conn:
        oldest_raw = conn.execute("SELECT min(ts) FROM raw").fetchone()[0]
        assert oldest_raw >= now - 86_400_000
        rolled = conn.execute("SELECT min(ts), min(min), max(max), sum(n) FROM rollup "
                              "WHERE series = ?", (sid,)).fetchone()
        assert rolled == (T0, 0.0, 59.0, 3 * 86_400 // 10)
        doc = query.series(conn, "m", T0, now, 500)
        assert not doc["raw"] and doc["points"][0][0] == T0
        assert max(p[3] for p in doc["points"]) == 59.0


def test_size_cap_evicts_the_oldest_rows_first_and_counts_them(tmp_path: Path) -> None:
    s = store(tmp_path, max_mb=0.25)
    for chunk in range(10):
        fill(s, "busy", [float(n) for n in range(3000)], start=T0 + chunk * 3_000_000)
    assert s.counters["evicted"] > 0
    assert s.used_bytes() <= 0.25 * 1024 * 1024
    with query.connect(tmp_path) as conn:
        lo, hi = conn.execute("SELECT min(ts), max(ts) FROM raw").fetchone()
    assert lo > T0 and hi == T0 + 9 * 3_000_000 + 2999 * 1000  # the newest kept


def test_a_corrupt_file_is_moved_aside_and_a_fresh_one_started(tmp_path: Path,
                                                               caplog: Any) -> None:
    s = store(tmp_path)
    fill(s, "x", [1.0, 2.0])
    s.close()
    (tmp_path / "history.db").write_bytes(b"this is not sqlite" * 1000)
    fresh = store(tmp_path)
    assert fresh.ids == {}
    aside = list(tmp_path.glob("history.db.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not sqlite")
    assert "is corrupt" in caplog.text and aside[0].name in caplog.text
    fill(fresh, "x", [3.0])
    with sqlite3.connect(tmp_path / "history.db") as conn:
        assert conn.execute("SELECT value FROM raw").fetchall() == [(3.0,)]


def test_buckets_not_rolled_up_before_a_crash_are_after_a_restart(tmp_path: Path) -> None:
    s = store(tmp_path, rollup_s=60)
    sid = s.series_id("c")
    s.write([(sid, T0 + n * 1000, float(n)) for n in range(120)], T0 + 30_000)  # open buckets
    s.conn.close()  # no clean close: as after kill -9
    again = store(tmp_path, rollup_s=60)
    assert again.dirty == {(sid, T0), (sid, T0 + 60_000)}
    again.write([], T0 + 600_000)
    with query.connect(tmp_path) as conn:
        assert conn.execute("SELECT ts, min, max, last, n FROM rollup ORDER BY ts").fetchall() \
            == [(T0, 0.0, 59.0, 59.0, 60), (T0 + 60_000, 60.0, 119.0, 119.0, 60)]


def test_rows_are_stored_in_order_across_multi_row_statements(tmp_path: Path) -> None:
    """A write goes in statements of INSERT_ROWS rows and the rest one by one: every row
    lands once, in arrival order per series (rowid order), whatever the batch size."""
    s = store(tmp_path)
    a, b = s.series_id("a"), s.series_id("b")
    for count in (INSERT_ROWS - 1, INSERT_ROWS, 2 * INSERT_ROWS + 7):
        rows = [((a, b)[n % 2], T0 + n, float(n)) for n in range(count)]
        s.write(rows, T0)
        stored = s.conn.execute("SELECT series, ts, value FROM raw ORDER BY rowid").fetchall()
        expect = sorted(rows, key=lambda r: r[0])  # by series, arrival order kept
        assert stored == expect, count
        s.conn.execute("DELETE FROM raw")
    assert s.counters["recorded"] == 4 * INSERT_ROWS + 6


def test_raw_rows_after_the_rollups_land_in_their_own_bucket(tmp_path: Path) -> None:
    """Wide buckets read rollups up to the last one and raw rows after it: a value in
    the minute not rolled up yet is answered at the end of the range, not at its start."""
    s = store(tmp_path)
    values = [20.0] * 7200
    values[-10] = 95.0  # in the last minute, not rolled up: the write's now is before its end
    sid = s.series_id("plc.temp")
    s.write([(sid, T0 + n * 1000, v) for n, v in enumerate(values)], T0 + 7_170_000)
    end = T0 + 7_200_000
    with query.connect(tmp_path) as conn:
        doc = query.series(conn, "plc.temp", T0 + 50_000, end, 50)
    spike = next(p for p in doc["points"] if p[3] == 95.0)
    assert spike[0] <= T0 + 7_190_000 < spike[0] + doc["bucket_ms"]
    assert doc["points"][0][3] == 20.0
    assert [p[0] for p in doc["points"]] == sorted({p[0] for p in doc["points"]})
