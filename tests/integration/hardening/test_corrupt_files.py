"""A corrupt SQLite file of ours is moved aside and started fresh; the system comes up
without a human (issue 17 item 1)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.integration.daemon import sim


def garbage(path: Path) -> None:
    path.write_bytes(b"this is not an SQLite database, it was overwritten\n" * 200)


def truncate(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(max(size // 2, 1024 + 7))


def header_only(path: Path) -> None:
    """The first page survives, the rest is zeros: 'database disk image is malformed'."""
    with open(path, "r+b") as fh:
        head = fh.read(100)
        size = fh.seek(0, 2)
        fh.seek(0)
        fh.write(head + b"\x00" * (size - 100))


def persisted_values(d) -> int:
    db = sqlite3.connect(d.data / "last_values.db")
    try:
        return db.execute("SELECT COUNT(*) FROM last_values").fetchone()[0]
    finally:
        db.close()


@pytest.mark.parametrize("damage", [garbage, truncate, header_only])
def test_corrupt_last_values_is_moved_aside_and_the_system_comes_up(daemon_factory,
                                                                     damage) -> None:
    d = daemon_factory([sim("w1", "bms", rate_hz=20)]).start()
    d.wait_for(lambda: persisted_values(d) > 5, what="last values persisted")
    d.stop()
    # many rows so a half-truncated file really loses pages
    db = sqlite3.connect(d.data / "last_values.db")
    with db:
        db.executemany("INSERT OR REPLACE INTO last_values VALUES (?,?,?,?,?,?)",
                       [(f"old.p{n}", str(n), 0, "good", 1, None) for n in range(3000)])
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    damage(d.data / "last_values.db")
    d.start()
    assert d.instance("broker")["status"] == "running"
    assert d.instance("w1")["status"] == "running"
    aside = [p for p in d.data.glob("last_values.db.corrupt-*") if "." not in p.name[-4:]]
    assert len(aside) == 1, list(d.data.iterdir())
    found = d.wait_for(lambda: [e for e in d.call("logs", id="broker", n=200)
                                if "is corrupt" in e["line"]], what="error line")
    assert found[0]["level"] == "ERROR" and "last_values.db" in found[0]["line"] \
        and aside[0].name in found[0]["line"]
    # the fresh file takes new values again
    d.wait_for(lambda: persisted_values(d) > 0, what="new values persisted")
    assert d.call("datapoints", prefix="w1.")["total"] > 0


def test_corrupt_system_log_is_moved_aside_and_errors_are_recorded_again(
        daemon_factory) -> None:
    d = daemon_factory([sim("w1")])
    d.data.mkdir(parents=True)
    garbage(d.data / "system_logs.db")
    d.start()
    assert d.instance("w1")["status"] == "running"
    assert len(list(d.data.glob("system_logs.db.corrupt-*.why"))) == 1
    assert "system_logs.db is corrupt" in d.daemon_log()
    db = sqlite3.connect(d.data / "system_logs.db")
    try:
        assert db.execute("SELECT COUNT(*) FROM errors").fetchone()[0] == 0
    finally:
        db.close()
