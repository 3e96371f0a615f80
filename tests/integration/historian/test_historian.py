"""The historian against a real daemon: simulators publish, the historian records, the
admin API answers from history.db. Nothing is mocked."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

import pytest
import zmq
from edgeos.ipc import addresses, protocol
from edgeos.ipc.historian.policy import as_number

from tests.integration.admin_ui.web import WebDaemon
from tests.integration.daemon import Daemon, pid_alive, sim
from tests.integration.support import wait_until

ALL = {"min_interval_s": 0}


def db(d: Daemon) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{d.data / 'history.db'}?mode=ro", uri=True)


def rows(d: Daemon, address: str) -> list[tuple[int, float]]:
    with db(d) as conn:
        return conn.execute("SELECT ts, value FROM raw JOIN series ON series.id = raw.series "
                            "WHERE name = ? ORDER BY ts", (address,)).fetchall()


def counters(d: Daemon) -> dict[str, int]:
    with db(d) as conn:
        return dict(conn.execute("SELECT name, value FROM counters").fetchall())


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    w = WebDaemon(tmp_path_factory.mktemp("hist"), [sim("plc_1", rate_hz=20)],
                  settings={"history": ALL}).start()
    yield w
    w.close()


def test_values_are_recorded_and_served_with_the_file_private(ui: WebDaemon) -> None:
    d = ui.d
    hist = d.instance("historian")
    assert hist["status"] == "running" and hist["role"] == "historian"
    d.wait_for(lambda: len(rows(d, "plc_1.MAIN.nCycle")) >= 20, what="nCycle recorded")
    assert stat.S_IMODE(os.stat(d.data / "history.db").st_mode) == 0o600
    admin = ui.admin()
    doc = admin.ok("GET", "/api/history?address=plc_1.MAIN.nCycle&max_points=10000")
    assert doc["raw"] and doc["address"] == "plc_1.MAIN.nCycle"
    stored = rows(d, "plc_1.MAIN.nCycle")
    assert [p[0] for p in doc["points"]][:len(stored)] == [ts for ts, _ in stored][
        :len(doc["points"])]
    assert all(p[1] == p[2] == p[3] == p[4] for p in doc["points"])
    csv = admin.get("/api/history.csv?address=plc_1.MAIN.nCycle&raw=true")
    assert csv.status == 200 and csv.headers["Content-Type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[0] == "ts_ms,time_utc,value" and len(lines) > 20
    assert admin.get("/api/history?address=nope.x").status == 404
    bad = admin.get("/api/history?address=plc_1.MAIN.nCycle&from=yesterday")
    assert bad.status == 400 and "from" in bad.json()["error"]


def test_downsampling_keeps_the_max_of_a_spike(ui: WebDaemon) -> None:
    d, admin = ui.d, ui.admin()
    t0 = int(time.time() * 1000)
    for value in [20, 21, 22, 23, 1000, 24, 25, 26, 27, 28, 29]:
        assert admin.put("/api/datapoints/plc_1.MAIN.setpoint", {"value": value}).status \
            == 200
    d.wait_for(lambda: any(v == 29 for _, v in rows(d, "plc_1.MAIN.setpoint")),
               what="setpoint writes recorded")
    t1 = int(time.time() * 1000) + 1
    doc = admin.ok("GET", f"/api/history?address=plc_1.MAIN.setpoint&from={t0}&to={t1}"
                          "&max_points=3")
    assert not doc["raw"] and 1 <= len(doc["points"]) <= 3
    assert max(p[3] for p in doc["points"]) == 1000
    assert doc["points"][-1][4] == 29  # the last value of the last bucket
    csv = admin.get(f"/api/history.csv?address=plc_1.MAIN.setpoint&from={t0}&to={t1}"
                    "&max_points=3").text.splitlines()
    assert csv[0] == "ts_ms,time_utc,min,avg,max,last"
    assert any(line.split(",")[4] == "1000.0" for line in csv[1:])


def test_instance_figures_are_recorded(ui: WebDaemon) -> None:
    admin = ui.admin()
    doc = ui.d.wait_for(lambda: (r := admin.get("/api/history/instances?id=plc_1&metric="
                                                "memory_mb")).status == 200
                        and len(r.json()["points"]) >= 2 and r.json(), what="RSS history")
    assert doc["metric"] == "memory_mb" and all(p[3] > 1 for p in doc["points"])
    bad = admin.get("/api/history/instances?id=plc_1&metric=temperature")
    assert bad.status == 400
    stats = admin.ok("GET", "/api/history/stats")
    assert stats["counters"]["recorded"] > 0 and stats["series"]["stat"] >= 4


def changes_since(run: Path, sub: zmq.Socket, until: float) -> list[tuple[float, str, Any]]:
    got = []
    while time.monotonic() < until:
        if sub.poll(50):
            topic, body = sub.recv_multipart()[:2]
            now = time.monotonic()
            for item in protocol.unpack(body):
                got.append((now, topic.decode() + item[0], item[2], item[1]))
    return got


def test_kill_9_loses_at_most_the_last_second(daemon_factory: Any) -> None:
    d = daemon_factory([sim("plc_1", rate_hz=50)], settings={"history": ALL}).start()
    d.wait_state("historian", "running")
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(addresses.endpoint(d.run, addresses.CHANGES))
    sub.setsockopt(zmq.SUBSCRIBE, b"plc_1.")
    hist_pid = d.instance("historian")["pid"]
    try:
        seen = changes_since(d.run, sub, time.monotonic() + 4)
        killed_at = time.monotonic()
        assert d.proc is not None
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(10)
    finally:
        sub.close()
        ctx.term()
    wait_until(lambda: not pid_alive(hist_pid), 10, "historian gone with the supervisor")
    expected: set[tuple[str, int]] = set()
    previous: dict[str, float | None] = {}
    for when, address, ts, value in seen:
        number = as_number(value)
        if number is None:
            continue
        if address in previous and number != previous[address] and when < killed_at - 1.0:
            expected.add((address, ts))
        previous[address] = number
    with db(d) as conn:
        stored = set(conn.execute("SELECT name, ts FROM raw JOIN series ON id = series"))
    assert len(expected) > 100
    missing = expected - stored
    assert not missing, f"{len(missing)} of {len(expected)} changes older than 1 s lost"


def test_retention_deletes_old_raw_rows_keeps_rollups_and_counts_it(
        daemon_factory: Any) -> None:
    settings = {"history": {**ALL, "raw_days": 2 / 86400, "rollup_s": 1, "maintenance_s": 1,
                            "instances": {"enabled": False}}}
    d = daemon_factory([sim("plc_1", rate_hz=20)], settings=settings).start()
    started = time.time() * 1000
    d.wait_for(lambda: counters(d).get("expired", 0) > 0, 20, "retention at work")
    d.wait_for(lambda: time.time() * 1000 - started > 5000, what="a few seconds more")
    now = time.time() * 1000
    with db(d) as conn:
        oldest_raw = conn.execute("SELECT min(ts) FROM raw").fetchone()[0]
        first_rollup, last_rollup = conn.execute("SELECT min(ts), max(ts) FROM rollup"
                                                 ).fetchone()
    assert now - oldest_raw < 2000 + 1000 + 1500  # retention 2 s, maintenance 1 s, slack
    assert first_rollup < oldest_raw < last_rollup + 2000  # older data lives on as rollups
    assert first_rollup <= started + 1500
    assert d.stop() == 0
    with db(d) as conn:
        kept = conn.execute("SELECT count(*) FROM raw").fetchone()[0]
    c = counters(d)
    assert c["expired"] > 0 and c["recorded"] == c["expired"] + kept  # each deletion counted


def test_size_cap_evicts_oldest_first_and_counts_it(daemon_factory: Any) -> None:
    settings = {"history": {**ALL, "max_mb": 0.15, "instances": {"enabled": False}}}
    d = daemon_factory([sim("bms_1", "bms", rate_hz=200, limits={"max_pps": 50_000})],
                       settings=settings).start()
    d.wait_for(lambda: counters(d).get("evicted", 0) > 0, 40, "the size cap at work")
    d.wait_for(lambda: any("over its size cap of 0.15 MB" in e["line"] and "oldest rows"
                           in e["line"] for e in d.call("logs", id="historian", n=500)),
               what="the eviction logged")
    stopped = time.time() * 1000
    assert d.stop() == 0
    with db(d) as conn:
        oldest_raw, newest_raw, kept = conn.execute("SELECT min(ts), max(ts), count(*) FROM raw"
                                                    ).fetchone()
        pages, free, size = (conn.execute(f"PRAGMA {p}").fetchone()[0]
                             for p in ("page_count", "freelist_count", "page_size"))
    c = counters(d)
    assert newest_raw > stopped - 1000  # the newest are kept ...
    assert newest_raw - oldest_raw < 3000  # ... and the oldest went
    assert c["recorded"] == c["evicted"] + kept  # every row is accounted for
    assert (pages - free) * size <= 0.15 * 1024 * 1024


def test_corrupt_history_is_moved_aside_and_the_daemon_keeps_running(
        daemon_factory: Any) -> None:
    d = daemon_factory([sim("plc_1", rate_hz=10)], settings={"history": ALL}).start()
    d.wait_for(lambda: rows(d, "plc_1.MAIN.nCycle"), what="first values")
    d.ctl_json("stop", "historian")
    pids = {i["id"]: i["pid"] for i in d.status()["instances"] if i["pid"]}
    (d.data / "history.db").write_bytes(b"garbage, not a database\n" * 4096)
    for suffix in ("-wal", "-shm"):
        (d.data / f"history.db{suffix}").unlink(missing_ok=True)
    assert d.ctl_json("start", "historian")["status"] == "running"
    d.wait_for(lambda: len(rows(d, "plc_1.MAIN.nCycle")) >= 3, what="recording again")
    aside = list(d.data.glob("history.db.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"garbage")
    log = "\n".join(e["line"] for e in d.call("logs", id="historian", n=200))
    assert "is corrupt" in log and aside[0].name in log and "starting a fresh history" in log
    assert {i["id"]: i["pid"] for i in d.status()["instances"] if i["id"] in pids} == pids
    assert d.instance("plc_1")["status"] == "running"


def test_history_can_be_switched_off(daemon_factory: Any) -> None:
    d = daemon_factory([sim("plc_1", rate_hz=5)], settings={"history": {"enabled": False}})
    d.start()
    assert "historian" not in {i["id"] for i in d.status()["instances"]}
    assert not (d.data / "history.db").exists()
    assert d.stop() == 0


def test_reload_applies_changed_history_settings(daemon_factory: Any) -> None:
    d = daemon_factory([sim("plc_1", rate_hz=5)], settings={"history": ALL}).start()
    first = d.wait_state("historian", "running")["pid"]
    (d.config / "edgeos.json").write_text(json.dumps({"history": {"enabled": False}}))
    assert "historian" in d.ctl_json("reload")["changed"]
    assert "historian" not in {i["id"] for i in d.status()["instances"]}
    wait_until(lambda: not pid_alive(first), 10, "the old historian gone")
    (d.config / "edgeos.json").write_text(json.dumps({"history": {"min_interval_s": 5}}))
    assert "historian" in d.ctl_json("reload")["changed"]
    again = d.wait_state("historian", "running")
    assert again["pid"] != first
    assert "historian" not in d.ctl_json("reload")["changed"]  # unchanged: left alone
    assert d.instance("historian")["pid"] == again["pid"]
