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

from edgeos.supervisor import cgroups as cg
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
        self.root = base / f"{cg.SUBTREE_PREFIX}{os.getpid()}"
        self._watched: dict[str, int] = {}
        self._seen: dict[str, dict[str, int]] = {}
        self._oom_base: dict[str, int] = {}

    @classmethod
    def detect(cls, system: System, mount: Path, lines: list[str]) -> CgroupV2 | None:
        """Our own cgroup v2 dir if it is writable and offers the controllers, else None."""
        path = cg.unified(lines, mount)
        if path is None:
            return None  # not a pure cgroup v2 system
        base = mount / path.lstrip("/")
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
        cg.remove_stale(self.base, self.root.name)
        self.root.mkdir(exist_ok=True)
        (self.root / "cgroup.subtree_control").write_text(enable)

    def path(self, instance_id: str) -> Path:
        return self.root / cg.leaf_name(instance_id)

    def place(self, instance_id: str, pid: int, limits: dict[str, Any],
              sink: cg.EventSink) -> None:
        self.release(instance_id)
        leaf = self.path(instance_id)
        leaf.mkdir(exist_ok=True)
        want = cg.LeafLimits.of(limits)
        (leaf / "memory.max").write_text(str(want.ram_bytes or "max"))
        (leaf / "memory.high").write_text(str(want.warn_bytes or "max"))
        (leaf / "cpu.max").write_text(f"{want.cpu_quota_us or 'max'} {cg.CPU_PERIOD_US}")
        (leaf / "pids.max").write_text(str(want.pids))
        (leaf / "cgroup.procs").write_text(str(pid))
        if not want.ram_bytes:
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
        return cg.oom_since(self._oom_base, instance_id,
                            lambda: read_events(self.path(instance_id)).get("oom_kill", 0))

    def kill(self, instance_id: str) -> bool:
        knob = self.path(instance_id) / "cgroup.kill"
        if knob.exists():
            knob.write_text("1")
        else:
            cg.kill_tasks(self.path(instance_id) / "cgroup.procs")
        return True

    def throttled_s(self, instance_id: str) -> float:
        return cg.throttled(self.path(instance_id) / "cpu.stat", "throttled_usec", 1e6)

    def remove(self, instance_id: str) -> None:
        self.release(instance_id)
        self._seen.pop(instance_id, None)
        with contextlib.suppress(OSError):  # still populated or already gone
            self.path(instance_id).rmdir()

    def close(self) -> None:
        for instance_id in list(self._watched):
            self.release(instance_id)
        cg.remove_tree(self.root)
