"""A v1 leaf is reused as it is by a restart at once after a crash (issue 16): only the
move into it is written; its armed events report for the new process. Any change of
limits, or a stop in between, configures and arms it afresh."""

from __future__ import annotations

import os
from pathlib import Path

from edgeos.supervisor.cgroups.v1 import CgroupV1

from tests.unit.supervisor.fakes import FakeSystem
from tests.unit.supervisor.test_cgroups import MB, fake_v1_leaf, proc_lines, v1_mount


def placed(tmp_path: Path) -> tuple[FakeSystem, CgroupV1, list[tuple[str, int, int]]]:
    fake = FakeSystem()
    groups = CgroupV1.detect(fake, v1_mount(tmp_path), proc_lines(tmp_path / "proc_cgroup"))
    assert groups is not None
    fake_v1_leaf(groups, "w1")
    seen: list[tuple[str, int, int]] = []
    groups.place("w1", 777, {"max_ram_mb": 100},
                 lambda kind, value: seen.append((777, kind, value)))
    return fake, groups, seen


def test_an_immediate_restart_only_moves_the_new_process_in(tmp_path: Path) -> None:
    fake, groups, seen = placed(tmp_path)
    mem = groups.leaf("memory", "w1")
    armed = dict(fake.watched)
    (mem / "memory.limit_in_bytes").write_text("as the kernel keeps it")
    groups.place("w1", 888, {"max_ram_mb": 100},
                 lambda kind, value: seen.append((888, kind, value)))
    assert (mem / "memory.limit_in_bytes").read_text() == "as the kernel keeps it"
    for ctrl in groups.roots:
        assert (groups.leaf(ctrl, "w1") / "cgroup.procs").read_text() == "888"
    assert fake.watched == armed  # the same registrations, still armed
    threshold_fd, oom_fd = armed
    (mem / "memory.usage_in_bytes").write_text(str(85 * MB))
    os.eventfd_write(threshold_fd, 1)
    fake.watched[threshold_fd]()
    assert seen == [(888, "ram_warning", 85 * MB)]  # the new process's sink
    (mem / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    os.eventfd_write(oom_fd, 1)
    fake.watched[oom_fd]()
    assert seen[-1] == (888, "oom", 1) and groups.oom_killed("w1")
    groups.remove("w1")
    groups.close()


def test_other_limits_or_a_stop_in_between_configure_the_leaf_afresh(
        tmp_path: Path) -> None:
    fake, groups, _ = placed(tmp_path)
    mem = groups.leaf("memory", "w1")
    groups.place("w1", 888, {"max_ram_mb": 200}, lambda kind, value: None)
    assert (mem / "memory.limit_in_bytes").read_text() == str(200 * MB)
    first = set(fake.watched)
    groups.release("w1")  # the process ended (a stop, or a crash into back-off)
    assert fake.watched == {}
    (mem / "memory.limit_in_bytes").write_text("stale")
    groups.place("w1", 999, {"max_ram_mb": 200}, lambda kind, value: None)
    assert (mem / "memory.limit_in_bytes").read_text() == str(200 * MB)
    assert len(first) == 2 and len(fake.watched) == 2  # armed again
    groups.remove("w1")
    groups.close()
