"""The cgroup v2 path against the real kernel, where this machine allows it.

Needs a pure cgroup v2 mount with the memory and cpu controllers and the right to
create a child cgroup (root, or a delegated subtree). Elsewhere (cgroup v1 hosts such
as the one this was written on) it is skipped with the reason; the sampling fallback
is covered by test_enforcement.py on every machine.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from tests.integration.daemon import sim

MOUNT = Path("/sys/fs/cgroup")


def own_cgroup() -> Path | None:
    if not (MOUNT / "cgroup.controllers").exists():
        return None
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return MOUNT / line[3:].lstrip("/")
    return None


def test_memory_max_and_cpu_max_are_set_by_the_kernel_path(daemon_factory, tmp_path) -> None:
    parent = own_cgroup()
    if parent is None:
        pytest.skip("no cgroup v2 mount here (cgroup v1 host): fallback path only")
    controllers = (parent / "cgroup.controllers").read_text().split()
    if not {"memory", "cpu"} <= set(controllers) or not os.access(parent, os.W_OK):
        pytest.skip(f"cgroup {parent} offers {controllers} and is not writable by us")
    delegated = parent / f"edgeos-test-{os.getpid()}"
    delegated.mkdir()
    try:
        # start the daemon inside the new cgroup: a tiny wrapper moves itself, then execs
        wrapper = tmp_path / "in_cgroup.py"
        wrapper.write_text(
            "import os, sys\n"
            f"open({str(delegated / 'cgroup.procs')!r}, 'w').write(str(os.getpid()))\n"
            "os.execv(sys.argv[1], sys.argv[1:])\n")
        d = daemon_factory([sim("capped", limits={"max_ram_mb": 64, "max_cpu_share": 20})])
        d.command = [sys.executable, str(wrapper), str(Path(sys.executable).parent / "edgeos")]
        d.start()
        inst = d.instance("capped")
        assert inst["enforcement"] == "cgroup"
        group = delegated / "w-capped"
        assert (group / "memory.max").read_text().strip() == str(64 * 1024 * 1024)
        assert (group / "cpu.max").read_text().split()[0] == "20000"
        assert str(inst["pid"]) in (group / "cgroup.procs").read_text().split()
        d.stop()
    finally:
        time.sleep(0.2)
        for child in sorted(delegated.glob("*/"), reverse=True):
            child.rmdir()
        delegated.rmdir()
