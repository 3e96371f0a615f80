"""The shared storage pieces on real SQLite files: corrupt files moved aside, the
durable queue's order, bound, hold and take-over of the bridge's old table."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest
from edgeos.ipc.storage.queue import DurableQueue
from edgeos.ipc.storage.sqlite import open_db
from edgeos.workers.mqtt_bridge.queue import OfflineQueue


def make_table(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS t (x)")


@pytest.mark.parametrize("content", [b"garbage" * 500, b"SQLite format 3\x00" + b"\xff" * 4000,
                                     b""])
def test_corrupt_file_is_moved_aside_and_a_fresh_one_opened(tmp_path: Path, content: bytes,
                                                            caplog) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(content)
    (tmp_path / "x.db-wal").write_bytes(b"old wal")
    with caplog.at_level(logging.ERROR):
        db = open_db(path, make_table)
    db.execute("INSERT INTO t VALUES (1)")
    db.commit()
    db.close()
    aside = sorted(p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name)
    if content:  # an empty file is a valid (empty) database
        assert aside[0].startswith("x.db.corrupt-") and aside[-1].endswith(".why"), aside
        assert (tmp_path / aside[0]).read_bytes() == content
        assert "file is not a database" in (tmp_path / aside[-1]).read_text()
        assert "x.db is corrupt" in caplog.text
    else:
        assert aside == []


def test_healthy_file_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    db = open_db(path, make_table)
    db.execute("INSERT INTO t VALUES (7)")
    db.commit()
    db.close()
    again = open_db(path, make_table)
    assert again.execute("SELECT x FROM t").fetchall() == [(7,)]
    again.close()
    assert [p.name for p in tmp_path.iterdir() if "corrupt" in p.name] == []


def test_held_entries_are_never_dropped_and_do_not_count(tmp_path: Path) -> None:
    async def main() -> None:
        q = DurableQueue(tmp_path / "q.db", max_rows=3)
        await q.open()
        await q.append([{"n": 0}])
        head = await q.peek(1, hold=True)  # being delivered
        assert q.waiting == 0
        assert await q.append([{"n": n} for n in range(1, 11)]) == 7
        assert q.waiting == 3 and q.dropped == 7
        await q.delete_upto(head[0].id)
        rows = await q.peek(10)
        assert [r.item["n"] for r in rows] == [8, 9, 10]
        await q.close()

    asyncio.run(main())


def test_bridge_queue_takes_over_the_old_outbox_table(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT "
               "NULL, payload BLOB NOT NULL, retain INTEGER NOT NULL)")
    db.executemany("INSERT INTO outbox (topic, payload, retain) VALUES (?,?,?)",
                   [(f"t/{n}", str(n).encode(), n % 2) for n in range(5)])
    db.commit()
    db.close()

    async def main() -> None:
        q = OfflineQueue(path, max_rows=100)
        await q.open()
        rows = await q.peek(10)
        assert [(r.topic, r.payload, r.retain) for r in rows] == [
            (f"t/{n}", str(n).encode(), bool(n % 2)) for n in range(5)]
        await q.close()

    asyncio.run(main())
