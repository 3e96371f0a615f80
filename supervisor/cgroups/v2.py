"""cgroup v2, where the daemon owns a delegated subtree (systemd ``Delegate=yes``).

The kernel forbids processes in a cgroup whose children have controllers enabled, so
the supervisor moves itself into a leaf ``supervisor/`` and enables ``memory``,
``cpu`` and ``pids`` below; each instance gets ``edgeos-<pid>/w-<id>/`` with
``memory.max`` (the cap), ``memory.high`` at 80 % of it (the kernel reclaims above
it and counts ``high`` in ``memory.events``), ``cpu.max`` and ``pids.max``.
``memory.events`` is watched with inotify: ``high`` is the warning, ``oom_kill`` the
kernel's kill. ``cgroup.kill`` ends a leaf at once where the kernel has it.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
from pathlib import Path
from typing import Any

from edgeos.supervisor.cgroups import (
    CPU_PERIOD_US,
    DEFAULT_PIDS,
    RAM_WARN,
    SUBTREE_PREFIX,
    EventSink,
    bytes_of_mb,
    cpu_quota_us,
    kill_tasks,
    remove_stale,
    remove_tree,
    throttled,
)
from edgeos.supervisor.seam import System

log = logging.getLogger(__name__)

CONTROLLERS = ("memory", "cpu", "pids")
IN_MODIFY = 0x2
_libc = ctypes.CDLL(None, use_errno=True)


def inotify_fd(path: Path) -> int:
    """A non-blocking inotify fd that becomes readable when ``path`` is modified."""
    fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1")
    if _libc.inotify_add_watch(fd, os.fsencode(path), IN_MODIFY) < 0:
        err = ctypes.get_errno()
        os.close(fd)
        raise OSError(err, f"inotify_add_watch {path}")
    return fd


def read_events(leaf: Path) -> dict[str, int]:
    """``memory.events`` as a dict (low, high, max, oom, oom_kill, ...)."""
    out = {}
    for line in (leaf / "memory.events").read_text().splitlines():
        key, _, value = line.partition(" ")
        out[key] = int(value)
    return out


class CgroupV2:
    name = "cgroup-v2"

    def __init__(self, system: System, base: Path) -> None:
        self.sys = system
        self.base = base  # the delegated cgroup we run in
        self.root = base / f"{SUBTREE_PREFIX}{os.getpid()}"
        self._watched: dict[str, int] = {}
        self._seen: dict[str, dict[str, int]] = {}
        self._oom_base: dict[str, int] = {}

    @classmethod
    def detect(cls, system: System, mount: Path, proc_cgroup: Path) -> CgroupV2 | None:
        """Our own cgroup v2 dir if it is writable and offers the controllers, else None."""
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
        groups = cls(system, base)
        try:
            groups.prepare()
        except OSError as exc:
            log.info("cgroup v2 subtree %s not usable (%s); using the fallback", base, exc)
            return None
        log.info("limits enforced by cgroup v2 under %s", groups.root)
        return groups

    def prepare(self) -> None:
        """Move ourselves into a leaf, enable the controllers, make our subtree."""
        own = self.base / "supervisor"
        own.mkdir(exist_ok=True)
        (own / "cgroup.procs").write_text(str(os.getpid()))
        enable = " ".join(f"+{c}" for c in CONTROLLERS)
        (self.base / "cgroup.subtree_control").write_text(enable)
        remove_stale(self.base, self.root.name)
        self.root.mkdir(exist_ok=True)
        (self.root / "cgroup.subtree_control").write_text(enable)

    def path(self, instance_id: str) -> Path:
        return self.root / f"w-{instance_id}"

    def place(self, instance_id: str, pid: int, limits: dict[str, Any],
              sink: EventSink) -> None:
        self.release(instance_id)
        leaf = self.path(instance_id)
        leaf.mkdir(exist_ok=True)
        ram = limits.get("max_ram_mb")
        (leaf / "memory.max").write_text(str(bytes_of_mb(ram)) if ram else "max")
        (leaf / "memory.high").write_text(str(int(bytes_of_mb(ram) * RAM_WARN)) if ram
                                          else "max")
        quota = cpu_quota_us(limits.get("max_cpu_share"))
        (leaf / "cpu.max").write_text(f"{quota or 'max'} {CPU_PERIOD_US}")
        (leaf / "pids.max").write_text(str(int(limits.get("max_pids") or DEFAULT_PIDS)))
        (leaf / "cgroup.procs").write_text(str(pid))
        if not ram:
            return
        seen = self._seen[instance_id] = read_events(leaf)
        self._oom_base[instance_id] = seen.get("oom_kill", 0)
        fd = self._watched[instance_id] = inotify_fd(leaf / "memory.events")

        def changed() -> None:
            with contextlib.suppress(BlockingIOError):
                os.read(fd, 4096)
            try:
                now = read_events(leaf)
            except OSError:
                return
            before, self._seen[instance_id] = self._seen.get(instance_id, {}), now
            if now.get("high", 0) > before.get("high", 0):
                sink("ram_warning", int((leaf / "memory.current").read_text()))
            if now.get("oom_kill", 0) > before.get("oom_kill", 0):
                sink("oom", now["oom_kill"])

        self.sys.watch_fd(fd, changed)

    def release(self, instance_id: str) -> None:
        fd = self._watched.pop(instance_id, None)
        if fd is not None:
            self.sys.unwatch_fd(fd)
            os.close(fd)

    def oom_killed(self, instance_id: str) -> bool:
        try:
            now = read_events(self.path(instance_id)).get("oom_kill", 0)
        except (OSError, ValueError):
            return False
        return now > self._oom_base.get(instance_id, now)

    def kill(self, instance_id: str) -> bool:
        knob = self.path(instance_id) / "cgroup.kill"
        if knob.exists():
            knob.write_text("1")
        else:
            kill_tasks(self.path(instance_id) / "cgroup.procs")
        return True

    def throttled_s(self, instance_id: str) -> float:
        return throttled(self.path(instance_id) / "cpu.stat", "throttled_usec", 1e6)

    def remove(self, instance_id: str) -> None:
        self.release(instance_id)
        self._seen.pop(instance_id, None)
        with contextlib.suppress(OSError):  # still populated or already gone
            self.path(instance_id).rmdir()

    def close(self) -> None:
        for instance_id in list(self._watched):
            self.release(instance_id)
        remove_tree(self.root)
