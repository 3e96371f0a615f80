"""The faults of the chaos suite, shared by tests/chaos/ and bench/chaos.py.

Each fault builds its own real daemon under ``root``, lets traffic flow, takes a
snapshot of the last values, injects the fault, and measures how long until the
system is back (every enabled instance running, mode as expected, values flowing
again) and how many last values were lost: an address that vanished, or whose value
went back further than the last second before the fault. Only processes of that
daemon are touched, by pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.integration.daemon import Daemon, pid_alive, sim
from tests.integration.support import wait_until

SETTINGS = {"limits": {"heartbeat_s": 1}, "restart": {"base_s": 0.2}}
PLANT = [sim("plc_1", "plc", rate_hz=5), sim("bms_1", "bms", rate_hz=5)]
ROUTES = [{"id": "v2sp", "from": "bms_1.voltage", "to": "plc_1.MAIN.setpoint",
           "transform": "scale(0.5)"}]
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
    run: Callable[[Path, Fault], Outcome]
    needs: str = ""  # a reason to skip, when the fault cannot be made here


# -- helpers -----------------------------------------------------------------------------
def plant(root: Path, headless: bool = True, **kw: Any) -> Daemon:
    kw.setdefault("connections", PLANT)
    kw.setdefault("routes", ROUTES)
    kw.setdefault("settings", SETTINGS)
    extra = kw.pop("extra_args", [])
    if not headless:
        from tests.integration.admin_ui.web import free_port

        extra = [*extra, "--web-port", str(free_port())]
    return Daemon(root, headless=headless, extra_args=extra, **kw)


def snapshot(d: Daemon) -> dict[str, dict[str, Any]]:
    return {p["address"]: p for p in d.call("datapoints", limit=100_000)["datapoints"]}


def flowing(d: Daemon, since_ms: int) -> bool:
    """Fresh values from every running worker after ``since_ms``."""
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


def recover(d: Daemon, fault: Fault, t0: float, since_ms: int, mode: str = "normal",
            restart: Callable[[], None] | None = None,
            replaced: tuple[str, int] | None = None) -> float:
    """Seconds from ``t0`` until the system is back (or the limit times out); with
    ``replaced`` = (id, old pid), that instance must run as a new process."""
    if restart is not None:
        restart()

    def back() -> bool:
        if replaced is not None and pid_of(d, replaced[0]) in (None, replaced[1]):
            return False
        return normal(d, mode) and (mode != "normal" or flowing(d, since_ms))

    wait_until(back, fault.limit_s, f"{fault.name}: back to {mode}", 0.1,
               context=lambda: d.daemon_log()[-2000:])
    return time.monotonic() - t0


def outcome(fault: Fault, d: Daemon, before: dict[str, Any], cut_ms: int, took: float,
            detail: str = "") -> Outcome:
    gone = lost(before, snapshot(d), cut_ms)
    return Outcome(fault.name, fault.injected, True, round(took, 2), len(gone),
                   fault.limit_s, detail or (f"lost: {gone[:5]}" if gone else ""))


def warmed(d: Daemon) -> dict[str, dict[str, Any]]:
    d.start()
    d.wait_for(lambda: flowing(d, 0) and len(snapshot(d)) > 10, what="traffic")
    time.sleep(1.5)  # one persistence round behind us
    return snapshot(d)


def pid_of(d: Daemon, iid: str) -> int:
    return d.instance(iid)["pid"]


def restart_daemon(d: Daemon) -> Callable[[], None]:
    """What systemd does after the daemon died (Restart=always)."""
    def again() -> None:
        d.log.close()
        d._client = None
        d.start(wait=False)
    return again


# -- the faults --------------------------------------------------------------------------
def kill_process(iid: str, sig: int, headless: bool = True) -> Callable[[Path, Fault], Outcome]:
    def run(root: Path, fault: Fault) -> Outcome:
        d = plant(root, headless=headless)
        pid = None
        try:
            before = warmed(d)
            pid = pid_of(d, iid)
            cut = int(time.time() * 1000)
            t0 = time.monotonic()
            os.kill(pid, sig)
            took = recover(d, fault, t0, cut, replaced=(iid, pid))
            if sig == signal.SIGSTOP:
                assert not pid_alive(pid), "the stopped process was not ended"
            return outcome(fault, d, before, cut, took)
        finally:
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            d.cleanup()
    return run


def kill_supervisor(group: bool) -> Callable[[Path, Fault], Outcome]:
    """kill -9 of the supervisor (children die with it), or of the whole group at once
    (a power cut) during traffic; systemd starts the daemon again."""
    def run(root: Path, fault: Fault) -> Outcome:
        d = plant(root)
        try:
            before = warmed(d)
            children = [p.pid for p in d.children_by_run_dir() if p.pid != d.proc.pid]
            cut = int(time.time() * 1000)
            t0 = time.monotonic()
            for pid in [d.proc.pid, *children] if group else [d.proc.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            d.proc.wait(10)
            wait_until(lambda: not any(pid_alive(p) for p in children), 10,
                       "no child outlives the supervisor")
            took = recover(d, fault, t0, cut, restart=restart_daemon(d))
            return outcome(fault, d, before, cut, took)
        finally:
            d.cleanup()
    return run


def corrupt_file(name: str, damage: bytes, mode: str = "normal",
                 **plant_kw: Any) -> Callable[[Path, Fault], Outcome]:
    """Stop the daemon, overwrite one of its files, start it: it must come up."""
    def run(root: Path, fault: Fault) -> Outcome:
        d = plant(root, **plant_kw)
        try:
            before = warmed(d)
            d.stop()
            path = d.data / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(damage)
            for side in ("-wal", "-shm"):
                path.with_name(path.name + side).unlink(missing_ok=True)
            cut = int(time.time() * 1000)
            t0 = time.monotonic()
            took = recover(d, fault, t0, cut, mode, restart=restart_daemon(d))
            kept_aside = any(path.parent.glob(f"{path.name}.corrupt-*"))
            assert kept_aside, f"{name} was not moved aside"
            if name == "last_values.db" or mode == "panic":
                before = {}  # values went with the file, or no device runs (fail safe)
            return outcome(fault, d, before, cut, took, f"{name} moved aside")
        finally:
            d.cleanup()
    return run


def refused_reload_then_broker_crash(root: Path, fault: Fault) -> Outcome:
    d = plant(root)
    try:
        before = warmed(d)
        (d.config / "routing.json").write_text(json.dumps(
            {"version": "1.0", "routes": [{"id": "x", "from": "nobody.v", "to": "plc_1.a"}]}))
        assert d.ctl("reload").returncode != 0
        pid = pid_of(d, "broker")
        cut = int(time.time() * 1000)
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        took = recover(d, fault, t0, cut, replaced=("broker", pid))
        assert [r["id"] for r in d.call("routes")["routes"]] == ["v2sp"], "routes lost"
        return outcome(fault, d, before, cut, took, "runs on the last good routes")
    finally:
        d.cleanup()


def instance_flood(root: Path, fault: Fault) -> Outcome:
    d = plant(root)
    try:
        before = warmed(d)
        config = (d.config / "connections.json").read_text()
        d.write_connections([sim(f"flood_{n}") for n in range(10_000)])
        cut = int(time.time() * 1000)
        t0 = time.monotonic()
        done = d.ctl("reload")
        assert done.returncode != 0 and "limit" in done.stderr, done.stderr
        (d.config / "connections.json").write_text(config)
        took = recover(d, fault, t0, cut)
        assert not [i for i in d.status()["instances"] if i["id"].startswith("flood_")]
        return outcome(fault, d, before, cut, took, done.stderr.strip().splitlines()[-1][:80])
    finally:
        d.cleanup()


GARBAGE = b"not a database; overwritten by the chaos suite\n" * 100

FAULTS = [
    Fault("kill9_worker", "kill -9 of a device worker", 20,
          kill_process("plc_1", signal.SIGKILL)),
    Fault("kill9_broker", "kill -9 of the broker", 20, kill_process("broker", signal.SIGKILL)),
    Fault("kill9_admin_ui", "kill -9 of the admin UI", 20,
          kill_process("admin-ui", signal.SIGKILL, headless=False)),
    Fault("kill9_supervisor", "kill -9 of the supervisor; systemd restarts it", 30,
          kill_supervisor(group=False)),
    Fault("power_cut", "SIGKILL of the whole process group during traffic", 30,
          kill_supervisor(group=True)),
    Fault("sigstop_worker", "SIGSTOP of a device worker (hung)", 15,
          kill_process("plc_1", signal.SIGSTOP)),
    Fault("sigstop_broker", "SIGSTOP of the broker (hung)", 30,
          kill_process("broker", signal.SIGSTOP)),
    Fault("sigstop_admin_ui", "SIGSTOP of the admin UI (hung)", 30,
          kill_process("admin-ui", signal.SIGSTOP, headless=False)),
    Fault("corrupt_last_values", "last_values.db overwritten", 30,
          corrupt_file("last_values.db", GARBAGE)),
    Fault("corrupt_system_log", "system_logs.db overwritten", 30,
          corrupt_file("system_logs.db", GARBAGE)),
    Fault("corrupt_state", "state.json truncated (fail safe: comes up in panic)", 30,
          corrupt_file("state.json", b'{"mode": "pan', mode="panic")),
    Fault("corrupt_webhook_queue", "the webhook queue file overwritten", 30,
          corrupt_file("webhook/hook.db", GARBAGE, connections=[
              *PLANT, {"id": "hook", "type": "webhook",
                       "config": {"url": "http://127.0.0.1:9/x", "retries": 0}}])),
    Fault("refused_reload_broker_crash", "refused reload, then kill -9 of the broker", 20,
          refused_reload_then_broker_crash),
    Fault("instance_flood", "reload with 10,000 enabled connections", 20, instance_flood),
]


def disk_full(root: Path, fault: Fault) -> Outcome:
    """The data dir's file system fills up during traffic (a small tmpfs, filled by a
    file), then space comes back: the system must stay up meanwhile and persist again."""
    d = plant(root)
    d.data.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "edgeos-chaos",
                    str(d.data)], check=True)
    filler = d.data / "filler"
    try:
        before = warmed(d)
        cut = int(time.time() * 1000)
        t0 = time.monotonic()
        with open(filler, "wb") as fh, contextlib.suppress(OSError):
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


FAULTS.append(Fault("disk_full", "the data dir's file system full during traffic", 30,
                    disk_full, needs=_can_mount()))
