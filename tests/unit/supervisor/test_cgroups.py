"""The cgroup v2 backend's files, on a directory laid out like cgroupfs.

The kernel side can only be exercised on a cgroup v2 host with a delegated subtree:
tests/integration/enforcement/test_cgroups_live.py does that where it is possible.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgeos.supervisor.cgroups import Cgroups


def fake_mount(tmp_path: Path, controllers: str = "cpuset cpu io memory pids") -> Path:
    mount = tmp_path / "cgroup"
    own = mount / "system.slice" / "edgeos.service"
    own.mkdir(parents=True)
    (mount / "cgroup.controllers").write_text(controllers)
    (own / "cgroup.controllers").write_text(controllers)
    (own / "cgroup.subtree_control").write_text("")
    (tmp_path / "proc_cgroup").write_text("0::/system.slice/edgeos.service\n")
    return mount


def test_detect_prepares_a_delegated_subtree(tmp_path: Path) -> None:
    mount = fake_mount(tmp_path)
    groups = Cgroups.detect(mount, tmp_path / "proc_cgroup")
    assert groups is not None
    own = mount / "system.slice" / "edgeos.service"
    assert (own / "supervisor" / "cgroup.procs").read_text() == str(os.getpid())
    assert (own / "cgroup.subtree_control").read_text() == "+memory +cpu"


def test_detect_refuses_v1_or_missing_controllers(tmp_path: Path) -> None:
    (tmp_path / "proc_cgroup").write_text("4:memory:/x\n0::/\n")
    assert Cgroups.detect(tmp_path / "nomount", tmp_path / "proc_cgroup") is None
    mount = fake_mount(tmp_path / "b", controllers="cpuset io pids")
    assert Cgroups.detect(mount, tmp_path / "b" / "proc_cgroup") is None


def test_place_writes_limits_and_pid(tmp_path: Path) -> None:
    groups = Cgroups(tmp_path)
    groups.place("plc_1", 4242, {"max_ram_mb": 50, "max_cpu_share": 20})
    group = tmp_path / "w-plc_1"
    assert (group / "memory.max").read_text() == str(50 * 1024 * 1024)
    assert (group / "cpu.max").read_text() == "20000 100000"
    assert (group / "cgroup.procs").read_text() == "4242"
    groups.place("free", 4243, {})
    assert (tmp_path / "w-free" / "memory.max").read_text() == "max"
    assert (tmp_path / "w-free" / "cpu.max").read_text() == "max 100000"


def test_kill_uses_cgroup_kill_when_present(tmp_path: Path) -> None:
    groups = Cgroups(tmp_path)
    groups.place("a", 1, {})
    assert groups.kill("a") is False
    (tmp_path / "w-a" / "cgroup.kill").write_text("0")
    assert groups.kill("a") is True
    assert (tmp_path / "w-a" / "cgroup.kill").read_text() == "1"
