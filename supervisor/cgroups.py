"""cgroup v2 enforcement, where the daemon owns a delegated subtree.

Under systemd with ``Delegate=yes`` the daemon's own cgroup is writable. The kernel
forbids processes in a cgroup whose children have controllers enabled, so the
supervisor first moves itself into a leaf ``supervisor/``, enables ``memory`` and
``cpu`` for the children, and gives every worker a leaf ``w-<id>/`` with
``memory.max`` (from ``max_ram_mb``) and ``cpu.max`` (from ``max_cpu_share``).
Force-kill writes ``cgroup.kill`` when the kernel has it.

Without such a subtree (cgroup v1, no delegation, no permission) :meth:`Cgroups.detect`
returns None and the sampling/duty-cycle fallback in :mod:`edgeos.supervisor.limits` applies.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CPU_PERIOD_US = 100_000
CONTROLLERS = ("memory", "cpu")


class Cgroups:
    def __init__(self, base: Path) -> None:
        self.base = base

    @classmethod
    def detect(cls, mount: Path = Path("/sys/fs/cgroup"),
               proc_cgroup: Path = Path("/proc/self/cgroup")) -> Cgroups | None:
        """Our own cgroup v2 dir if it is writable and offers memory and cpu, else None."""
        try:
            lines = proc_cgroup.read_text().splitlines()
        except OSError:
            return None
        unified = [line.split("::", 1)[1] for line in lines if line.startswith("0::")]
        if not unified or not (mount / "cgroup.controllers").exists():
            return None  # not a pure cgroup v2 system
        base = mount / unified[0].lstrip("/")
        try:
            available = (base / "cgroup.controllers").read_text().split()
        except OSError:
            return None
        if not all(c in available for c in CONTROLLERS) or not os.access(base, os.W_OK):
            return None
        groups = cls(base)
        try:
            groups.prepare()
        except OSError as exc:
            log.info("cgroup v2 subtree %s not usable (%s); using the fallback", base, exc)
            return None
        return groups

    def prepare(self) -> None:
        """Move ourselves into a leaf and enable the controllers for children."""
        own = self.base / "supervisor"
        own.mkdir(exist_ok=True)
        (own / "cgroup.procs").write_text(str(os.getpid()))
        (self.base / "cgroup.subtree_control").write_text(
            " ".join(f"+{c}" for c in CONTROLLERS))

    def path(self, instance_id: str) -> Path:
        return self.base / f"w-{instance_id}"

    def place(self, instance_id: str, pid: int, limits: dict[str, Any]) -> None:
        """Put ``pid`` into the instance's cgroup with its memory and CPU limits."""
        group = self.path(instance_id)
        group.mkdir(exist_ok=True)
        ram = limits.get("max_ram_mb")
        (group / "memory.max").write_text(str(int(float(ram) * 1024 * 1024)) if ram else "max")
        share = limits.get("max_cpu_share")
        quota = int(float(share) / 100 * CPU_PERIOD_US) if share else None
        (group / "cpu.max").write_text(f"{quota} {CPU_PERIOD_US}" if quota else
                                       f"max {CPU_PERIOD_US}")
        (group / "cgroup.procs").write_text(str(pid))

    def kill(self, instance_id: str) -> bool:
        """SIGKILL everything in the instance's cgroup; False if the kernel can't."""
        knob = self.path(instance_id) / "cgroup.kill"
        if not knob.exists():
            return False
        knob.write_text("1")
        return True

    def remove(self, instance_id: str) -> None:
        """Drop an empty instance cgroup (after the instance was removed)."""
        with contextlib.suppress(OSError):  # still populated or already gone
            self.path(instance_id).rmdir()
