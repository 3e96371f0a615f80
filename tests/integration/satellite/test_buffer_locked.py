"""A satellite's disk buffer locked past SQLite's busy timeout (seen in a full test run:
a WAL checkpoint on a busy disk held the write lock, the uplink's write failed, the
datapoints it had taken from the feed were gone and the uplink crashed on a
transaction left open). Now the write is retried and nothing is lost or doubled."""

from __future__ import annotations

import sqlite3
import time

import pytest

from tests.integration.satellite.support import (
    Recorder,
    assert_exactly_once,
    counter,
    make_pair,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

LOCK_S = 7  # past the uplink's busy timeout (5 s, sqlite3's default)


def test_a_locked_buffer_loses_nothing(daemon_factory) -> None:
    pair = make_pair(daemon_factory, [counter()])
    rec = Recorder(pair.core.run, "sat1.")
    try:
        pair.trust()
        pair.core.wait_for(lambda: len(rec.seqs("sat1.c1.seq")) > 500, 20, "live values")
        uplink = pair.sat.instance("uplink")["pid"]
        lock = sqlite3.connect(pair.sat.data / "uplink.db", isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # the write lock, as a long checkpoint holds it
        time.sleep(LOCK_S)
        lock.execute("ROLLBACK")
        lock.close()
        log = (pair.sat.data / "logs" / "uplink.log").read_text()
        assert "buffer write failed" in log, "the lock did not reach the uplink's write"
        assert pair.sat.instance("uplink")["pid"] == uplink, "the uplink crashed"
        target = pair.sat.wait_for(lambda: pair.sat_link()["last_seq"], 10, "seq")
        pair.core.wait_for(lambda: (pair.core_row() or {}).get("acked", 0) >= target + 500,
                           30, "the values after the lock")
        assert_exactly_once(rec.seqs("sat1.c1.seq"))
    finally:
        rec.close()
