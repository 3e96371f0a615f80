"""Kernel enforcement through cgroups, against the real kernel of this host.

cgroup v1 here (memory, cpu, cpuacct, pids hierarchies, writable as root); v2 where
the daemon runs in a delegated subtree. Each test reads the effect back from the
kernel (cgroupfs, /proc), not from the supervisor's bookkeeping, and checks that the
daemon's cgroup subtree is gone after it stops. Where no cgroup can be made (no
root, no controllers) the tests skip with the reason; test_enforcement.py covers the
sampling fallback everywhere.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.daemon import Daemon, pid_alive, sim

MOUNT = Path("/sys/fs/cgroup")
V1 = ("memory", "cpu", "cpuacct", "pids")


def own_hierarchies(pid: int | str = "self") -> dict[str, Path]:
    """controller -> the cgroup dir ``pid`` is in, for the v1 controllers we use."""
    out: dict[str, Path] = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        for ctrl in ctrls.split(","):
            if ctrl in V1 and (MOUNT / ctrl).is_dir():
                out[ctrl] = MOUNT / ctrl / path.lstrip("/")
    return out


def subtrees(daemon_pid: int) -> list[Path]:
    """Every cgroup dir named for this daemon, in any hierarchy."""
    parents = list(own_hierarchies().values()) or [MOUNT]
    return [p / f"edgeos-{daemon_pid}" for p in parents
            if (p / f"edgeos-{daemon_pid}").exists()]


def leaf(d: Daemon, ctrl: str, iid: str) -> Path:
    assert d.proc is not None
    if d.instance(iid)["enforcement"] == "cgroup-v2":
        found = list(MOUNT.glob(f"**/edgeos-{d.proc.pid}/w-{iid}"))
        assert found, "no v2 leaf"
        return found[0]
    return own_hierarchies()[ctrl] / f"edgeos-{d.proc.pid}" / f"w-{iid}"


def start_enforced(d: Daemon) -> Daemon:
    d.start()
    backend = d.instance("broker")["enforcement"]
    if backend == "sampling":
        d.stop()
        pytest.skip("no cgroup can be made here (no root or no controllers): fallback only")
    return d


def stop_and_check_cleanup(d: Daemon) -> None:
    assert d.proc is not None
    pid = d.proc.pid
    assert d.stop() == 0
    assert subtrees(pid) == [], "the daemon left cgroups behind"


def test_leak_is_killed_by_the_kernel_after_the_warning_event_without_polling(
        daemon_factory, tmp_path: Path) -> None:
    d = start_enforced(daemon_factory([sim("leaky", limits={"max_ram_mb": 80}, fault={
        "kind": "leak", "mb_per_s": 15, "after_s": 2})]))
    inst = d.instance("leaky")
    assert inst["enforcement"] in ("cgroup-v1", "cgroup-v2")
    first = inst["pid"]
    table = d.ctl("status").stdout
    row = next(line for line in table.splitlines() if line.startswith("leaky "))
    assert "LIMITS BY" in table and row.split()[-1] == inst["enforcement"]
    mem = leaf(d, "memory", "leaky")
    if inst["enforcement"] == "cgroup-v1":
        assert int((mem / "memory.limit_in_bytes").read_text()) == 80 * 1024 * 1024
    assert str(first) in (mem / "cgroup.procs").read_text().split()
    # watch every file the supervisor opens or reads while the worker leaks up to its cap
    # (-y names the file behind each fd: /proc files stay open and are read with pread)
    trace = tmp_path / "strace.out"
    assert d.proc is not None
    strace = subprocess.Popen(["strace", "-qq", "-y", "-p", str(d.proc.pid), "-e",
                               "trace=openat,read,pread64", "-o", str(trace)])
    try:
        d.wait_for(lambda: d.instance("leaky")["restarts"] >= 1, 30, "the kernel's RAM kill")
    finally:
        strace.send_signal(signal.SIGINT)
        strace.wait(10)
    inst = d.instance("leaky")
    assert not pid_alive(first)
    assert inst["last_error"].startswith("RAM limit exceeded: killed by the kernel at "
                                         "max_ram_mb 80 MB")
    lines = [e["line"] for e in d.call("logs", id="leaky", n=200)]
    warned = next(n for n, line in enumerate(lines) if line.startswith("RAM at "))
    killed = next(n for n, line in enumerate(lines) if "-> killed: RAM limit exceeded" in line)
    assert warned < killed, lines
    assert "event)" in lines[warned]  # the kernel's threshold event, not a sample
    assert any(e["message"].startswith("RAM limit exceeded")
               for e in d.call("errors", id="leaky"))
    opened = trace.read_text()
    assert f"/proc/{first}/stat>" in opened  # strace saw the 1 Hz stats pass
    assert f"/proc/{first}/statm" not in opened  # no RSS polling of the worker
    d.wait_for(lambda: d.instance("leaky")["status"] == "running", 20, "restarted")
    stop_and_check_cleanup(d)


def test_cpu_hog_is_held_at_its_share_by_the_kernel(daemon_factory) -> None:
    d = start_enforced(daemon_factory([
        sim("capped", fault={"kind": "hog"}, limits={"max_cpu_share": 20}),
        sim("free", fault={"kind": "hog"})]))
    capped = d.instance("capped")
    acct = leaf(d, "cpuacct", "capped")
    if capped["enforcement"] == "cgroup-v1":
        assert (leaf(d, "cpu", "capped") / "cpu.cfs_quota_us").read_text().strip() == "20000"

    def used() -> float:  # what the kernel accounted to the leaf
        if capped["enforcement"] == "cgroup-v1":
            return int((acct / "cpuacct.usage").read_text()) / 1e9
        stat = dict(line.split() for line in (acct / "cpu.stat").read_text().splitlines())
        return int(stat["usage_usec"]) / 1e6

    time.sleep(1)
    u0, t0 = used(), time.monotonic()
    time.sleep(5)
    share = (used() - u0) / (time.monotonic() - t0) * 100
    assert 5 < share <= 22, share
    def kernel_throttled() -> float:
        key, per_s = (("throttled_time", 1e9) if capped["enforcement"] == "cgroup-v1"
                      else ("throttled_usec", 1e6))
        stat = leaf(d, "cpu", "capped") / "cpu.stat"
        values = dict(line.split() for line in stat.read_text().splitlines())
        return int(values[key]) / per_s

    before = kernel_throttled()
    status = d.instance("capped")
    after = kernel_throttled()
    assert before - 0.1 <= status["throttled_s"] <= after + 0.1  # the kernel's own figure
    if share > 15:  # it ran up to its quota, so the kernel must have held it back
        assert after > 0
    assert d.instance("free")["throttled_s"] == 0
    state = Path(f"/proc/{status['pid']}/stat").read_text().rsplit(")", 1)[1].split()[0]
    assert state != "T"  # never SIGSTOPped: no duty cycling by the supervisor
    stop_and_check_cleanup(d)


def test_fork_bomb_stops_at_pids_max_and_stale_subtrees_are_removed(daemon_factory) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = [p / f"edgeos-{dead.pid}" / "w-old" for p in own_hierarchies().values()]
    for group in stale:
        group.mkdir(parents=True)
    try:
        d = start_enforced(daemon_factory([
            sim("bomb", fault={"kind": "fork_bomb", "after_s": 0.2}, limits={"max_pids": 24})]))
        assert [g for g in stale if g.parent.exists()] == []  # cleaned at start
    finally:
        for group in stale:
            if group.exists():
                group.rmdir()
                group.parent.rmdir()
    pids = leaf(d, "pids", "bomb")
    assert (pids / "pids.max").read_text().strip() == "24"
    d.wait_for(lambda: any("fork refused" in e["line"]
                           for e in d.call("logs", id="bomb", n=100)), 20, "refused fork")
    assert int((pids / "pids.current").read_text()) == 24
    assert d.instance("bomb")["status"] == "running"  # the worker itself lives on
    tasks = [int(p) for p in (pids / "cgroup.procs").read_text().split()]
    assert len(tasks) > 5
    d.call("stop", id="bomb")
    d.wait_for(lambda: not (pids / "cgroup.procs").read_text().split(), 10, "empty leaf")
    assert [p for p in tasks if pid_alive(p)] == []
    stop_and_check_cleanup(d)
