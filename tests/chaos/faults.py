"""The faults of the chaos suite, shared by tests/chaos/ and bench/chaos.py.

Each fault runs in a :class:`~tests.chaos.lab.Lab`: on the shared plant when it leaves
the daemon normal (most do), on the shared core + satellite pair, or on a daemon of its
own. It takes a snapshot of the last values, injects the fault, and measures how long
until the system is back (every enabled instance running, mode as expected, values
flowing again) and how many last values were lost: an address that vanished, or whose
value went back further than the last second before the fault. Only processes of the
lab's daemons are touched, by pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import tornado.httpclient
import tornado.websocket

from tests.chaos.lab import HOST, PLANT, ROUTES, SETTINGS, Lab, Shared, restart
from tests.integration.daemon import Daemon, pid_alive, sim
from tests.integration.support import wait_until

GRACE_MS = 1000  # values of the last second before a power cut may be lost


@dataclass
class Outcome:
    fault: str
    injected: str
    survived: bool
    recovery_s: float | None  # None: not back within limit_s
    lost_values: int
    limit_s: float
    detail: str = ""

    def row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Fault:
    name: str
    injected: str  # what is done, in words
    limit_s: float  # stated recovery time
    run: Callable[[Lab, Fault], Outcome]
    needs: str = ""  # a reason to skip, when the fault cannot be made here
    slow: bool = False  # takes more than ~10 s (a hang must first be noticed)


# -- helpers -----------------------------------------------------------------------------
def snapshot(d: Daemon, prefix: str = "") -> dict[str, dict[str, Any]]:
    return {p["address"]: p for p in d.call("datapoints", prefix=prefix,
                                            limit=100_000)["datapoints"]}


def flowing(d: Daemon, since_ms: int) -> bool:
    """Fresh values from every running simulator after ``since_ms``."""
    points = snapshot(d)
    workers = [i["id"] for i in d.status()["instances"]
               if i["role"] == "worker" and i["enabled"] and i["type"] == "simulator"]
    return all(any(a.startswith(w + ".") and p["ts"] > since_ms for a, p in points.items())
               for w in workers)


def normal(d: Daemon, mode: str = "normal") -> bool:
    status = d.status()
    if status["mode"] != mode:
        return False
    return all(i["status"] == "running" for i in status["instances"]
               if i["enabled"] and (mode == "normal" or i["role"] != "worker"))


def lost(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]],
         cut_ms: int) -> list[str]:
    """Addresses whose value vanished or went back beyond the grace second."""
    gone = []
    for address, old in before.items():
        new = after.get(address)
        if new is None or (new["ts"] < old["ts"] and new["ts"] < cut_ms - GRACE_MS):
            gone.append(address)
    return gone


def pid_of(d: Daemon, iid: str) -> int:
    return d.instance(iid)["pid"]


def recover(d: Daemon, fault: Fault, t0: float, since_ms: int, mode: str = "normal",
            replaced: tuple[str, int] | None = None,
            also: Callable[[], bool] | None = None) -> float:
    """Seconds from ``t0`` until the system is back (or the limit times out); with
    ``replaced`` = (id, old pid), that instance must run as a new process."""
    def back() -> bool:
        if replaced is not None and pid_of(d, replaced[0]) in (None, replaced[1]):
            return False
        return normal(d, mode) and (mode != "normal" or flowing(d, since_ms)) and (
            also is None or also())

    wait_until(back, fault.limit_s, f"{fault.name}: back to {mode}", 0.1,
               context=lambda: d.daemon_log()[-2000:])
    return time.monotonic() - t0


def outcome(fault: Fault, d: Daemon, before: dict[str, Any], cut_ms: int, took: float,
            detail: str = "", prefix: str = "") -> Outcome:
    gone = lost(before, snapshot(d, prefix), cut_ms)
    return Outcome(fault.name, fault.injected, True, round(took, 2), len(gone),
                   fault.limit_s, detail or (f"lost: {gone[:5]}" if gone else ""))


def warmed(d: Daemon) -> dict[str, dict[str, Any]]:
    d.start()
    d.wait_for(lambda: flowing(d, 0) and len(snapshot(d)) > 10, what="traffic")
    time.sleep(1.5)  # one persistence round behind us
    return snapshot(d)


def settled(shared: Shared) -> dict[str, dict[str, Any]]:
    """The shared plant as a fault finds it: normal, values flowing, persisted."""
    d = shared.d
    since = int(time.time() * 1000)
    d.wait_for(lambda: normal(d) and flowing(d, since), 60, "shared plant normal")
    time.sleep(1.1)  # one persistence round behind us
    return snapshot(d)


def no_restart_since(d: Daemon, pids: dict[str, int]) -> None:
    now = {i["id"]: i["pid"] for i in d.status()["instances"]}
    assert now == pids, f"a process was restarted: {pids} -> {now}"


# -- the faults --------------------------------------------------------------------------
def kill_process(iid: str, sig: int) -> Callable[[Lab, Fault], Outcome]:
    """kill -9 / SIGSTOP of one process of the shared plant: it is replaced."""
    def run(lab: Lab, fault: Fault) -> Outcome:
        d = lab.shared.d
        before = settled(lab.shared)
        pid = pid_of(d, iid)
        cut = int(time.time() * 1000)
        t0 = time.monotonic()
        os.kill(pid, sig)
        try:
            took = recover(d, fault, t0, cut, replaced=(iid, pid))
            if sig == signal.SIGSTOP:
                assert not pid_alive(pid), "the stopped process was not ended"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        return outcome(fault, d, before, cut, took)
    return run


def kill_link(side: str, iid: str, sig: int) -> Callable[[Lab, Fault], Outcome]:
    """kill -9 / SIGSTOP of the satellite uplink (on the satellite) or the gateway (on
    the core): replaced, linked again, the satellite's values reach the core again."""
    def run(lab: Lab, fault: Fault) -> Outcome:
        pair = lab.pair
        d = pair.core if side == "core" else pair.sat
        assert d is not None
        since = int(time.time() * 1000)
        pair.core.wait_for(lambda: pair.linked(since), 60, "satellite linked")
        time.sleep(1.1)
        before = snapshot(pair.core, "sat1.")
        pid = pid_of(d, iid)
        cut = int(time.time() * 1000)
        t0 = time.monotonic()
        os.kill(pid, sig)
        try:
            took = recover(d, fault, t0, cut, replaced=(iid, pid),
                           also=lambda: pair.linked(cut))
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        return outcome(fault, pair.core, before, cut, took, prefix="sat1.")
    return run


def kill_supervisor(how: str) -> Callable[[Lab, Fault], Outcome]:
    """kill -9 of the supervisor (children die with it), of the whole group at once (a
    power cut) during traffic, or SIGSTOP of it (systemd's watchdog ends it); each
    time systemd starts the daemon again."""
    def run(lab: Lab, fault: Fault) -> Outcome:
        shared = lab.shared
        d = shared.d
        assert d.proc is not None
        before = settled(shared)
        children = [p.pid for p in d.children_by_run_dir() if p.pid != d.proc.pid]
        cut = int(time.time() * 1000)
        t0 = time.monotonic()
        if how == "stop":
            os.kill(d.proc.pid, signal.SIGSTOP)
            shared.systemd.enforce(d.proc.pid, fault.limit_s)
        else:
            for pid in [d.proc.pid, *children] if how == "group" else [d.proc.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        d.proc.wait(10)
        wait_until(lambda: not any(pid_alive(p) for p in children), 10,
                   "no child outlives the supervisor")
        ready = shared.systemd.ready
        restart(d)
        took = recover(d, fault, t0, cut, also=lambda: shared.systemd.ready > ready)
        return outcome(fault, d, before, cut, took)
    return run


def corrupt_file(name: str, damage: bytes, mode: str = "normal") -> Callable[[Lab, Fault],
                                                                             Outcome]:
    """Stop the shared plant, overwrite one of its files, start it: it must come up."""
    def run(lab: Lab, fault: Fault) -> Outcome:
        d = lab.shared.d
        before = settled(lab.shared)
        d.stop()
        path = d.data / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(damage)
        for side in ("-wal", "-shm"):
            path.with_name(path.name + side).unlink(missing_ok=True)
        cut = int(time.time() * 1000)
        t0 = time.monotonic()
        restart(d)
        took = recover(d, fault, t0, cut, mode)
        kept_aside = any(path.parent.glob(f"{path.name}.corrupt-*"))
        assert kept_aside, f"{name} was not moved aside"
        if name == "last_values.db" or mode == "panic":
            before = {}  # values went with the file, or no device runs (fail safe)
        result = outcome(fault, d, before, cut, took, f"{name} moved aside")
        if mode == "panic":  # the human step the table names, so the plant is normal again
            assert d.ctl("recover").returncode == 0
        return result
    return run


def refused_reload_then_broker_crash(lab: Lab, fault: Fault) -> Outcome:
    d = lab.shared.d
    before = settled(lab.shared)
    routing = (d.config / "routing.json").read_text()
    (d.config / "routing.json").write_text(json.dumps(
        {"version": "1.0", "routes": [{"id": "x", "from": "nobody.v", "to": "plc_1.a"}]}))
    try:
        assert d.ctl("reload").returncode != 0
        pid = pid_of(d, "broker")
        cut = int(time.time() * 1000)
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        took = recover(d, fault, t0, cut, replaced=("broker", pid))
        assert [r["id"] for r in d.call("routes")["routes"]] == ["v2sp"], "routes lost"
        return outcome(fault, d, before, cut, took, "runs on the last good routes")
    finally:
        (d.config / "routing.json").write_text(routing)
        assert d.ctl("reload").returncode == 0


def instance_flood(lab: Lab, fault: Fault) -> Outcome:
    d = lab.shared.d
    before = settled(lab.shared)
    config = (d.config / "connections.json").read_text()
    d.write_connections([sim(f"flood_{n}") for n in range(10_000)])
    cut = int(time.time() * 1000)
    t0 = time.monotonic()
    try:
        done = d.ctl("reload")
        assert done.returncode != 0 and "limit" in done.stderr, done.stderr
    finally:
        (d.config / "connections.json").write_text(config)
    took = recover(d, fault, t0, cut)
    flooded = [i["id"] for i in d.status()["instances"] if i["id"].startswith("flood_")]
    assert not flooded, flooded[:5]
    return outcome(fault, d, before, cut, took,
                   done.stderr.strip().splitlines()[-1].strip()[:80])


def _raw_http(port: int, head: str, body: bytes = b"") -> int:
    """Send a request head (and maybe a body); the answer's status (0: none)."""
    with socket.create_connection((HOST, port), timeout=20) as s:
        s.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        data = s.recv(65536)
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


def hostile_bodies(lab: Lab, fault: Fault) -> Outcome:
    """95 MB login bodies (announced; only the head is sent) and 100,000 levels of
    nesting: clear 413 / 400 answers, the UI is not killed, nothing restarts."""
    shared = lab.shared
    d = shared.d
    before = settled(shared)
    pids = {i["id"]: i["pid"] for i in d.status()["instances"]}
    cut = int(time.time() * 1000)
    t0 = time.monotonic()
    head = (f"POST /api/login HTTP/1.1\nHost: {HOST}:{shared.port}\n"
            "Content-Type: application/json\nContent-Length: 95000000\n")
    statuses = [_raw_http(shared.port, head) for _ in range(4)]
    assert statuses == [413] * 4, statuses
    res = shared.admin().post("/api/router/validate", raw=b"[" * 100_000 + b"]" * 100_000,
                              headers={"Content-Type": "application/json"})
    assert res.status == 400 and "nested deeper" in res.json()["error"], res.text
    took = recover(d, fault, t0, cut)
    no_restart_since(d, pids)
    return outcome(fault, d, before, cut, took, "413 and 400, nothing restarted")


def nan_writes(lab: Lab, fault: Fault) -> Outcome:
    """NaN / Infinity written over the API, the CLI and the control socket: refused, the
    value kept, every document still valid JSON."""
    d = lab.shared.d
    before = settled(lab.shared)
    admin = lab.shared.admin()
    address = "plc_1.MAIN.setpoint"
    cut = int(time.time() * 1000)
    t0 = time.monotonic()
    for text in ("NaN", "Infinity", "-Infinity", "1e999"):
        res = admin.put(f"/api/datapoints/{address}", raw=f'{{"value": {text}}}'.encode(),
                        headers={"Content-Type": "application/json"})
        assert res.status == 400 and "finite" in res.json()["error"], (text, res.text)
    done = d.ctl("set", address, "NaN")
    assert done.returncode == 2 and "finite" in done.stderr, done.stderr
    refused = d.call("set", address=address, value=float("nan"))
    assert refused["outcome"] == "refused", refused

    def strict(text: str) -> Any:
        return json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(
            AssertionError(f"invalid JSON constant {c}")))

    assert strict(admin.get("/api/datapoints?limit=1000").text), "no datapoints"
    value = strict(admin.get(f"/api/datapoints/{address}").text)["value"]
    assert isinstance(value, int | float) and value == value, value  # finite, kept
    took = recover(d, fault, t0, cut)
    return outcome(fault, d, before, cut, took, "refused at API, CLI and socket")


def revoked_websocket(lab: Lab, fault: Fault) -> Outcome:
    """A viewer token streams on an open WebSocket; `edgectl token revoke` closes it."""
    shared = lab.shared
    d = shared.d
    before = settled(shared)
    name = f"chaos-{int(time.time() * 1000)}"
    token = d.ctl_json("token", "create", "--role", "viewer", "--name", name)["token"]
    cut = int(time.time() * 1000)
    t0 = time.monotonic()

    async def closed_after_revoke() -> int | None:
        req = tornado.httpclient.HTTPRequest(
            shared.base.replace("http", "ws") + "/api/ws",
            headers={"Origin": shared.base, "Authorization": f"Bearer {token}"})
        conn = await tornado.websocket.websocket_connect(req)
        assert json.loads(await asyncio.wait_for(conn.read_message(), 10))["type"] == "hello"
        revoked = await asyncio.get_running_loop().run_in_executor(
            None, lambda: d.ctl("token", "revoke", name))
        assert revoked.returncode == 0, revoked.stderr
        while await asyncio.wait_for(conn.read_message(), 10) is not None:
            pass
        return conn.close_code

    code = asyncio.run(closed_after_revoke())
    assert code == 4401, code
    took = recover(d, fault, t0, cut)
    return outcome(fault, d, before, cut, took, "closed with 4401 on revoke")


NOBODY = 65534
PROBE = r"""
import json, os, socket, sys
data, run, files = sys.argv[1], sys.argv[2], sys.argv[3:]
got = {}
def attempt(name, fn):
    try:
        fn()
        got[name] = "allowed"
    except OSError as exc:
        got[name] = type(exc).__name__
attempt("list data dir", lambda: os.listdir(data))
for f in files:
    attempt("read " + f, lambda f=f: open(os.path.join(data, f), "rb").read(1))
attempt("list run dir", lambda: os.listdir(run))
for s in ("control.sock", "broker.sock", "events.sock"):
    def connect(s=s):
        c = socket.socket(socket.AF_UNIX)
        try:
            c.connect(os.path.join(run, s))
        finally:
            c.close()
    attempt("connect " + s, connect)
print(json.dumps(got))
"""


def _as_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def another_local_user(lab: Lab, fault: Fault) -> Outcome:
    """User ``nobody`` tries to list and read the data dir and to reach the sockets of
    the shared plant (whose parent dirs let everyone through): nothing is allowed."""
    d = lab.shared.d
    before = settled(lab.shared)
    assert all(os.stat(p).st_mode & 0o005 for p in (d.root, d.root.parent, d.run.parent))
    files = [f for f in ("last_values.db", "system_logs.db", "audit.log", "state.json",
                         "history.db", "logs/plc_1.log", "mqtt_bridge/bridge.db",
                         "webhook/hook.db") if (d.data / f).exists()]
    assert len(files) >= 5, files
    cut = int(time.time() * 1000)
    t0 = time.monotonic()
    probe = subprocess.run(["/usr/bin/python3", "-c", PROBE, str(d.data), str(d.run),
                            *files], capture_output=True, text=True, timeout=30,
                           preexec_fn=_as_nobody)
    assert probe.returncode == 0, probe.stderr
    got = json.loads(probe.stdout)
    assert len(got) == len(files) + 5, got
    allowed = [name for name, result in got.items() if result == "allowed"]
    assert not allowed, got
    took = recover(d, fault, t0, cut)
    return outcome(fault, d, before, cut, took, f"{len(got)} attempts, all refused")


def disk_full(lab: Lab, fault: Fault) -> Outcome:
    """The data dir's file system fills up during traffic (a small tmpfs, filled by a
    file), then space comes back: the system must stay up meanwhile and persist again."""
    d = Daemon(lab.fresh(fault.name), PLANT, ROUTES, SETTINGS)
    d.data.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "edgeos-chaos",
                    str(d.data)], check=True)
    filler = d.data / "filler"
    try:
        before = warmed(d)
        cut = int(time.time() * 1000)
        t0 = time.monotonic()
        # the suppress is outermost: ENOSPC may come at a write or at the close's flush
        with contextlib.suppress(OSError), open(filler, "wb", buffering=0) as fh:
            while True:
                fh.write(b"\0" * (1 << 16))
        time.sleep(3)  # full for a while: persistence, logs, errors all fail
        status = d.status()  # the supervisor still answers
        assert all(i["status"] == "running" for i in status["instances"]), status
        filler.unlink()
        since = int(time.time() * 1000)
        took = recover(d, fault, t0, cut)

        def persisted() -> bool:
            db = sqlite3.connect(d.data / "last_values.db")
            try:
                return db.execute("SELECT MAX(ts) FROM last_values").fetchone()[0] > since
            finally:
                db.close()

        wait_until(persisted, fault.limit_s, "persisting again")
        assert "Traceback" not in d.daemon_log(), d.daemon_log()[-3000:]
        took = time.monotonic() - t0
        return outcome(fault, d, before, cut, took, "stayed up; persists again")
    finally:
        d.cleanup()
        subprocess.run(["umount", "-l", str(d.data)], check=False)


def _can_mount() -> str:
    return "" if os.geteuid() == 0 and shutil.which("mount") else \
        "needs root and mount(8) for a small tmpfs"


GARBAGE = b"not a database; overwritten by the chaos suite\n" * 100
KILL, STOP = signal.SIGKILL, signal.SIGSTOP
RESTART_S = 60  # faults after which the whole daemon starts again (a busy board)

FAULTS = [
    Fault("kill9_worker", "kill -9 of a device worker", 20, kill_process("plc_1", KILL)),
    Fault("kill9_broker", "kill -9 of the broker", 20, kill_process("broker", KILL)),
    Fault("kill9_admin_ui", "kill -9 of the admin UI", 20, kill_process("admin-ui", KILL)),
    Fault("kill9_historian", "kill -9 of the historian", 20,
          kill_process("historian", KILL)),
    Fault("kill9_mqtt_bridge", "kill -9 of the MQTT bridge", 20, kill_process("bridge", KILL)),
    Fault("sigstop_worker", "SIGSTOP of a device worker (hung)", 15,
          kill_process("plc_1", STOP)),
    Fault("sigstop_mqtt_bridge", "SIGSTOP of the MQTT bridge (hung)", 15,
          kill_process("bridge", STOP)),
    Fault("sigstop_broker", "SIGSTOP of the broker (hung)", 30,
          kill_process("broker", STOP), slow=True),
    Fault("sigstop_admin_ui", "SIGSTOP of the admin UI (hung)", 30,
          kill_process("admin-ui", STOP), slow=True),
    Fault("sigstop_historian", "SIGSTOP of the historian (hung)", 30,
          kill_process("historian", STOP), slow=True),
    Fault("oversized_nested_bodies", "4 x 95 MB login bodies, 100,000 levels of nesting", 5,
          hostile_bodies),
    Fault("nan_writes", "NaN / Infinity written by API, CLI and control socket", 5,
          nan_writes),
    Fault("revoked_websocket", "viewer token revoked while its WebSocket streams", 10,
          revoked_websocket),
    Fault("refused_reload_broker_crash", "refused reload, then kill -9 of the broker", 20,
          refused_reload_then_broker_crash),
    Fault("instance_flood", "reload with 10,000 enabled connections", 20, instance_flood),
    Fault("another_local_user", "user nobody lists and reads the data dir, connects to "
          "the sockets", 5, another_local_user),
    Fault("kill9_supervisor", "kill -9 of the supervisor; systemd restarts it", RESTART_S,
          kill_supervisor("kill"), slow=True),
    Fault("power_cut", "SIGKILL of the whole process group during traffic", RESTART_S,
          kill_supervisor("group"), slow=True),
    Fault("sigstop_supervisor", "SIGSTOP of the supervisor; systemd's watchdog (2 s) "
          "ends it, systemd restarts it", RESTART_S, kill_supervisor("stop"), slow=True),
    Fault("corrupt_last_values", "last_values.db overwritten", RESTART_S,
          corrupt_file("last_values.db", GARBAGE), slow=True),
    Fault("corrupt_system_log", "system_logs.db overwritten", RESTART_S,
          corrupt_file("system_logs.db", GARBAGE), slow=True),
    Fault("corrupt_history", "history.db overwritten", RESTART_S,
          corrupt_file("history.db", GARBAGE), slow=True),
    Fault("corrupt_mqtt_queue", "the MQTT bridge's queue file overwritten", RESTART_S,
          corrupt_file("mqtt_bridge/bridge.db", GARBAGE), slow=True),
    Fault("corrupt_webhook_queue", "the webhook queue file overwritten", RESTART_S,
          corrupt_file("webhook/hook.db", GARBAGE), slow=True),
    Fault("corrupt_state", "state.json truncated (fail safe: comes up in panic)", RESTART_S,
          corrupt_file("state.json", b'{"mode": "pan', mode="panic"), slow=True),
    Fault("kill9_uplink", "kill -9 of a satellite's uplink", 30,
          kill_link("sat", "uplink", KILL), slow=True),
    Fault("kill9_satellite_gateway", "kill -9 of the core's satellite gateway", 30,
          kill_link("core", "satellite-gateway", KILL), slow=True),
    Fault("sigstop_uplink", "SIGSTOP of a satellite's uplink (hung)", 60,
          kill_link("sat", "uplink", STOP), slow=True),
    Fault("sigstop_satellite_gateway", "SIGSTOP of the core's satellite gateway (hung)", 60,
          kill_link("core", "satellite-gateway", STOP), slow=True),
    Fault("disk_full", "the data dir's file system full during traffic", 30, disk_full,
          needs=_can_mount(), slow=True),
]
