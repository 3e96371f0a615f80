"""The cgroup backends' files and events, on directories laid out like cgroupfs.

The files are plain files here, the eventfds and inotify fds are real: the tests
make the fd readable the way the kernel would and run the callback the loop would.
The kernel side itself: tests/integration/enforcement/test_cgroups_live.py.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from edgeos.supervisor import cgroups
from edgeos.supervisor.cgroups.v1 import CgroupV1
from edgeos.supervisor.cgroups.v2 import CgroupV2

from tests.unit.supervisor.fakes import FakeSystem

MB = 1024 * 1024


def v2_mount(tmp_path: Path, controllers: str = "cpuset cpu io memory pids") -> Path:
    mount = tmp_path / "cgroup"
    own = mount / "system.slice" / "edgeos.service"
    own.mkdir(parents=True)
    (mount / "cgroup.controllers").write_text(controllers)
    (own / "cgroup.controllers").write_text(controllers)
    (own / "cgroup.subtree_control").write_text("")
    (tmp_path / "proc_cgroup").write_text("0::/system.slice/edgeos.service\n")
    return mount


def v1_mount(tmp_path: Path) -> Path:
    mount = tmp_path / "cgroup"
    for ctrl in ("memory", "cpu", "cpuacct", "pids"):
        (mount / ctrl / "svc").mkdir(parents=True)
    (tmp_path / "proc_cgroup").write_text(
        "9:pids:/svc\n4:memory:/svc\n2:cpuacct:/svc\n1:cpu:/svc\n0::/\n")
    return mount


def fake_v1_leaf(backend: CgroupV1, iid: str) -> None:
    """The files the kernel would create in a new v1 leaf."""
    mem = backend.leaf("memory", iid)
    mem.mkdir(parents=True, exist_ok=True)
    (mem / "memory.usage_in_bytes").write_text("0")
    (mem / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")


def proc_lines(path: Path) -> list[str]:
    return cgroups.membership(path) or []


def test_v2_detect_prepares_a_delegated_subtree(tmp_path: Path) -> None:
    mount = v2_mount(tmp_path)
    groups = CgroupV2.detect(FakeSystem(), mount, proc_lines(tmp_path / "proc_cgroup"))
    assert groups is not None
    own = mount / "system.slice" / "edgeos.service"
    assert (own / "supervisor" / "cgroup.procs").read_text() == str(os.getpid())
    assert (own / "cgroup.subtree_control").read_text() == "+memory +cpu +pids"
    assert groups.root == own / f"edgeos-{os.getpid()}"
    assert (groups.root / "cgroup.subtree_control").read_text() == "+memory +cpu +pids"


def test_detect_refuses_hosts_without_the_controllers(tmp_path: Path) -> None:
    (tmp_path / "proc_cgroup").write_text("4:memory:/x\n0::/\n")
    assert cgroups.detect(FakeSystem(), tmp_path / "nomount", tmp_path / "proc_cgroup") is None
    mount = v2_mount(tmp_path / "b", controllers="cpuset io pids")
    assert CgroupV2.detect(FakeSystem(), mount, proc_lines(tmp_path / "b" / "proc_cgroup")) is None


@pytest.mark.parametrize(("layout", "found", "left_out"), [
    (v1_mount, "CgroupV1", "edgeos.supervisor.cgroups.v2"),
    (v2_mount, "CgroupV2", "edgeos.supervisor.cgroups.v1")])
def test_detect_imports_only_the_backend_the_host_offers(tmp_path: Path, layout, found,
                                                          left_out) -> None:
    """A host runs one backend; the supervisor keeps what it imports (issue 16), so the
    other module stays out. A fresh interpreter: this one has imported both."""
    mount = layout(tmp_path)
    code = textwrap.dedent(f"""
        import json, sys
        from pathlib import Path
        from edgeos.supervisor import cgroups
        from tests.unit.supervisor.fakes import FakeSystem
        backend = cgroups.detect(FakeSystem(), Path({str(mount)!r}),
                                 Path({str(tmp_path / "proc_cgroup")!r}))
        print(json.dumps([type(backend).__name__, {left_out!r} in sys.modules]))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True, cwd=Path(__file__).resolve().parents[3])
    assert json.loads(done.stdout.splitlines()[-1]) == [found, False]


def test_v2_place_writes_limits_and_inotify_reports_high_and_oom(tmp_path: Path) -> None:
    fake = FakeSystem()
    groups = CgroupV2(fake, tmp_path)
    leaf = groups.path("plc_1")
    leaf.mkdir(parents=True)
    (leaf / "memory.events").write_text("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n")
    (leaf / "memory.current").write_text(str(41 * MB))
    seen: list[tuple[str, int]] = []
    groups.place("plc_1", 4242, {"max_ram_mb": 50, "max_cpu_share": 20, "max_pids": 32},
                 lambda kind, value: seen.append((kind, value)))
    assert (leaf / "memory.max").read_text() == str(50 * MB)
    assert (leaf / "memory.high").read_text() == str(40 * MB)
    assert (leaf / "cpu.max").read_text() == "20000 100000"
    assert (leaf / "pids.max").read_text() == "32"
    assert (leaf / "cgroup.procs").read_text() == "4242"
    [(fd, changed)] = fake.watched.items()
    (leaf / "memory.events").write_text("low 0\nhigh 3\nmax 0\noom 0\noom_kill 0\n")
    assert select.select([fd], [], [], 1)[0] == [fd]  # inotify saw the kernel's write
    changed()
    assert seen == [("ram_warning", 41 * MB)]
    assert groups.oom_killed("plc_1") is False
    (leaf / "memory.events").write_text("low 0\nhigh 3\nmax 9\noom 1\noom_kill 1\n")
    changed()
    assert seen[-1] == ("oom", 1) and groups.oom_killed("plc_1") is True
    groups.release("plc_1")
    assert fake.watched == {}
    groups.place("free", 4243, {}, lambda kind, value: None)
    assert (groups.path("free") / "memory.max").read_text() == "max"
    assert (groups.path("free") / "cpu.max").read_text() == "max 100000"
    assert fake.watched == {}  # no cap, nothing to watch


def test_v1_detect_makes_a_subtree_per_hierarchy_and_removes_stale_ones(
        tmp_path: Path) -> None:
    mount = v1_mount(tmp_path)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = mount / "memory" / "svc" / f"edgeos-{dead.pid}" / "w-old"
    stale.mkdir(parents=True)
    alive = mount / "memory" / "svc" / "edgeos-1"  # pid 1 runs: not ours to touch
    alive.mkdir()
    groups = CgroupV1.detect(FakeSystem(), mount, proc_lines(tmp_path / "proc_cgroup"))
    assert groups is not None
    name = f"edgeos-{os.getpid()}"
    assert {c: p.relative_to(mount) for c, p in groups.roots.items()} == {
        c: Path(c, "svc", name) for c in ("memory", "cpu", "pids", "cpuacct")}
    assert not stale.parent.exists() and alive.exists()
    groups.close()
    assert not any((mount / c / "svc" / name).exists() for c in groups.roots)


def test_v1_place_writes_limits_and_registers_threshold_and_oom_events(
        tmp_path: Path) -> None:
    fake = FakeSystem()
    groups = CgroupV1.detect(fake, v1_mount(tmp_path), proc_lines(tmp_path / "proc_cgroup"))
    assert groups is not None
    fake_v1_leaf(groups, "w1")
    seen: list[tuple[str, int]] = []
    groups.place("w1", 777, {"max_ram_mb": 100, "max_cpu_share": 50},
                 lambda kind, value: seen.append((kind, value)))
    mem, cpu = groups.leaf("memory", "w1"), groups.leaf("cpu", "w1")
    assert (mem / "memory.limit_in_bytes").read_text() == str(100 * MB)
    assert (cpu / "cpu.cfs_quota_us").read_text() == "50000"
    assert (cpu / "cpu.cfs_period_us").read_text() == "100000"
    assert (groups.leaf("pids", "w1") / "pids.max").read_text() == str(cgroups.DEFAULT_PIDS)
    for ctrl in groups.roots:
        assert (groups.leaf(ctrl, "w1") / "cgroup.procs").read_text() == "777"
    # the last registration is the OOM one: "<eventfd> <fd of memory.oom_control>"
    assert len((mem / "cgroup.event_control").read_text().split()) == 2
    threshold_fd, oom_fd = fake.watched
    # below the threshold on the way down: no warning; at 85 %: one
    (mem / "memory.usage_in_bytes").write_text(str(60 * MB))
    os.eventfd_write(threshold_fd, 1)
    fake.watched[threshold_fd]()
    assert seen == []
    (mem / "memory.usage_in_bytes").write_text(str(85 * MB))
    os.eventfd_write(threshold_fd, 1)
    fake.watched[threshold_fd]()
    assert seen == [("ram_warning", 85 * MB)]
    fake.watched[threshold_fd]()  # readable without a kernel write: ignored
    assert len(seen) == 1
    (mem / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    os.eventfd_write(oom_fd, 1)
    fake.watched[oom_fd]()
    assert seen[-1] == ("oom", 1) and groups.oom_killed("w1")
    groups.remove("w1")
    assert fake.watched == {}
    with pytest.raises(OSError):
        os.fstat(threshold_fd)  # closed: the kernel drops the registration
    groups.close()


def test_cpu_quota_of_a_share() -> None:
    assert cgroups.cpu_quota_us(20) == 20_000
    assert cgroups.cpu_quota_us(250) == 250_000  # more than one core
    assert cgroups.cpu_quota_us(None) is None and cgroups.cpu_quota_us(400) is None
    assert cgroups.cpu_quota_us(0.1) == 1000  # the kernel's minimum


def test_a_dead_daemons_subtree_removed_meanwhile_counts_as_removed(tmp_path: Path) -> None:
    # the daemon was still shutting down and removed its own groups first (CI saw ENODEV)
    assert cgroups.remove_dead_subtree(tmp_path / "edgeos-1") is True
    assert cgroups.has_tasks(tmp_path / "gone" / "cgroup.procs") is False
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "cgroup.procs").write_text("")
    assert cgroups.has_tasks(tmp_path / "w" / "cgroup.procs") is False
    (tmp_path / "w" / "cgroup.procs").write_text("123\n")
    assert cgroups.has_tasks(tmp_path / "w" / "cgroup.procs") is True
