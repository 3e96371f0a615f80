"""Every limit acts on the real OS process, and these tests read the effect back from
the OS (/proc), not from the supervisor's own bookkeeping. RAM and CPU limits run on
the sampling fallback here (``EDGEOS_CGROUPS=off``); the kernel path is
test_cgroups_live.py."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import pytest
import zmq
from edgeos.ipc import addresses, protocol

from tests.integration.daemon import Daemon, pid_alive, sim

TICK = 1 / 100  # USER_HZ
FALLBACK = {"EDGEOS_CGROUPS": "off"}


def proc_stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    f = proc_stat(pid)
    return (int(f[11]) + int(f[12])) * TICK


def test_nice_read_back_from_proc(daemon_factory) -> None:
    d = daemon_factory([sim("n5", limits={"nice": 5}),
                        sim("n12", limits={"nice": 12, "ionice": 7, "cpu_affinity": [0]}),
                        sim("default")]).start()
    pid12 = d.instance("n12")["pid"]
    assert os.sched_getaffinity(pid12) == {0}
    assert psutil.Process(pid12).ionice().value == 7
    # by role: device workers default to nice 5, below the broker
    assert int(proc_stat(d.instance("default")["pid"])[16]) == 5
    assert int(proc_stat(d.instance("broker")["pid"])[16]) <= 0
    assert int(proc_stat(d.instance("n5")["pid"])[16]) == 5
    assert int(proc_stat(d.instance("n12")["pid"])[16]) == 12
    assert d.instance("n12")["nice"] == 12


def test_leaking_worker_is_killed_at_its_cap_and_restarted(daemon_factory) -> None:
    d = daemon_factory([sim("leaky", fault={"kind": "leak", "mb_per_s": 40},
                            limits={"max_ram_mb": 60})], env=FALLBACK).start()
    first = d.instance("leaky")["pid"]  # (under load it may be a restarted one already)
    inst = d.wait_for(lambda: (i := d.instance("leaky"))["pid"] not in (None, first) and i,
                      20, "leak kill")
    assert inst["restarts"] >= 1
    assert not pid_alive(first)
    assert "RAM limit exceeded" in inst["last_error"] and "max_ram_mb 60 MB" in inst["last_error"]
    logs = [e["line"] for e in d.call("logs", id="leaky", n=200)]
    assert any("RAM at" in line for line in logs)  # the 80 % warning came first
    assert any("RAM limit exceeded" in e["message"] for e in d.call("errors", id="leaky"))


def test_cpu_share_throttles_a_hog_and_spares_the_unlimited(daemon_factory) -> None:
    """Read back from /proc: the capped hog stays within its share and is seen stopped
    (SIGSTOP, state T) by the duty cycler; the free hog is never stopped. Nothing here
    depends on how much CPU the (shared, maybe saturated) machine has left over."""
    d = daemon_factory([sim("capped", fault={"kind": "hog"}, limits={"max_cpu_share": 20}),
                        sim("free", fault={"kind": "hog"})], env=FALLBACK).start()
    capped, free = d.instance("capped")["pid"], d.instance("free")["pid"]
    time.sleep(2)  # past the burst allowance
    states: dict[int, set[str]] = {capped: set(), free: set()}
    c0, f0, t0 = cpu_seconds(capped), cpu_seconds(free), time.monotonic()
    while time.monotonic() - t0 < 10:  # the test watches /proc; the supervisor does not poll
        for pid, seen in states.items():
            seen.add(proc_stat(pid)[0])
        time.sleep(0.005)
    elapsed = time.monotonic() - t0
    capped_pct = (cpu_seconds(capped) - c0) / elapsed * 100
    free_pct = (cpu_seconds(free) - f0) / elapsed * 100
    assert capped_pct <= 25, capped_pct
    assert "T" not in states[free], states[free]
    assert d.instance("free")["throttled_s"] == 0
    if free_pct > 30:  # the machine had room for a hog to pass the cap: it was held
        assert "T" in states[capped], (states[capped], free_pct, capped_pct)
        assert d.instance("capped")["throttled_s"] > 0
        assert capped_pct < free_pct, (capped_pct, free_pct)
    # a throttled worker still stops promptly (SIGCONT before SIGTERM)
    t = time.monotonic()
    d.call("stop", id="capped")
    assert time.monotonic() - t < 3 and not pid_alive(capped)


def test_hung_worker_is_killed_within_three_heartbeats_plus_one_second(daemon_factory) -> None:
    d = daemon_factory([sim("hung", fault={"kind": "hang", "after_s": 1},
                            limits={"heartbeat_s": 1})])
    d.start(wait=False)
    d.wait_for(lambda: addresses.socket_path(d.run, addresses.EVENTS).exists(), 20)
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.connect(addresses.endpoint(d.run, addresses.EVENTS))
    sub.setsockopt(zmq.SUBSCRIBE, b"state")
    ready_ts = killed_ts = None
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and killed_ts is None:
            if not sub.poll(1000):
                continue
            ev = protocol.unpack(sub.recv_multipart()[1])
            if ev["id"] != "hung":
                continue
            if ev["new"] == "running" and ready_ts is None:
                ready_ts = ev["ts"]
            elif ev["new"] == "killed":
                killed_ts = ev["ts"]
    finally:
        sub.close()
    assert ready_ts and killed_ts, "no ready/killed events"
    hang_started = ready_ts + 1000
    assert killed_ts - hang_started <= 3 * 1000 + 1000, killed_ts - hang_started
    assert "no heartbeat" in d.instance("hung")["last_error"]


def test_panic_failsafe_stop_persist_and_recover(daemon_factory) -> None:
    d = daemon_factory([sim("plc", failsafe={"MAIN.setpoint": 5}),
                        sim("bms", "bms"), sim("meter", "meter")]).start()
    d.call("set", address="plc.MAIN.setpoint", value=42)
    d.wait_for(lambda: d.call("get", address="plc.MAIN.setpoint")["value"] == 42)
    pids = [i["pid"] for i in d.status()["instances"] if i["role"] == "worker"]
    done = d.ctl("--json", "panic", "--reason", "test")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["failsafe"] == {"plc.MAIN.setpoint": {"value": 5, "acked": True}}
    assert d.call("get", address="plc.MAIN.setpoint")["value"] == 5
    assert [p for p in pids if pid_alive(p)] == []
    status = d.status()
    assert status["mode"] == "panic"
    assert all(i["status"] == "stopped" for i in status["instances"] if i["role"] == "worker")
    assert d.instance("broker")["status"] == "running"
    assert d.ctl("start", "plc").returncode == 1  # frozen
    audit = (d.data / "audit.log").read_text()
    assert '"action": "panic"' in audit and "edgectl:" in audit and '"why": "test"' in audit

    # survives a daemon restart
    assert d.stop() == 0
    d.start()
    status = d.status()
    assert status["mode"] == "panic"
    assert all(i["pid"] is None for i in status["instances"] if i["role"] == "worker")

    assert d.ctl("recover").returncode == 0
    status = d.status()
    assert status["mode"] == "normal"
    assert all(i["status"] == "running" for i in status["instances"] if i["role"] == "worker")


class SentryStandIn(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            import gzip

            body = gzip.decompress(body)
        SentryStandIn.received.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sentry_server():
    SentryStandIn.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), SentryStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_errors_reach_sqlite_and_sentry(daemon_factory, sentry_server) -> None:
    port = sentry_server.server_address[1]
    d: Daemon = daemon_factory(
        [sim("crashy", fault={"kind": "crash", "after_s": 0.5})],
        settings={"restart": {"base_s": 0.2, "flap_max": 2}},
        env={"SENTRY_DSN": f"http://publickey@127.0.0.1:{port}/42", "ENVIRONMENT": "test"})
    d.start(wait=False)
    d.wait_for(lambda: d.instance("crashy")["status"] == "error", 30, "error state")

    def crash_rows() -> list[tuple[str, str, str, int]]:
        db = sqlite3.connect(d.data / "system_logs.db")
        try:
            return db.execute("SELECT instance, message, traceback, count FROM errors "
                              "WHERE instance='crashy' AND traceback IS NOT NULL").fetchall()
        finally:
            db.close()

    # the last crash's ERROR can be read a moment after its exit gave up the instance
    d.wait_for(lambda: crash_rows()[0][3] >= 2, 10, "the second crash counted")
    rows = crash_rows()
    assert len(rows) == 1  # the crash loop is one row with a count, not a flood
    assert "SimulatedCrash" in rows[0][1] and "Traceback" in rows[0][2]
    d.wait_for(lambda: SentryStandIn.received, 10, "sentry event")
    payload = b"\n".join(SentryStandIn.received).decode()
    assert "SimulatedCrash" in payload
    assert '"instance":"crashy"' in payload.replace(" ", "")
    assert '"environment":"test"' in payload.replace(" ", "")
    crash_events = [r for r in SentryStandIn.received if b"SimulatedCrash" in r]
    assert len(crash_events) == 1  # repeats of a crash loop are not re-sent
