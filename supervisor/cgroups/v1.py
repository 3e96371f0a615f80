"""cgroup v1: one hierarchy per controller (memory, cpu, cpuacct, pids).

Per instance, in each hierarchy, ``<own cgroup>/edgeos-<daemon pid>/w-<id>/``:
``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes`` where swap is
accounted) caps RAM, ``cpu.cfs_quota_us`` per ``cpu.cfs_period_us`` the CPU share,
``pids.max`` the number of tasks. Events through ``cgroup.event_control``: an
eventfd on a ``memory.usage_in_bytes`` threshold at 80 % of the cap (it fires on
crossing; the supervisor reads the usage once, when it fires) and one on
``memory.oom_control``. The kernel's OOM killer stays on, so the process is killed
by the kernel at its cap; ``oom_kill`` in ``memory.oom_control`` tells the
supervisor afterwards that this was the cause.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from edgeos.supervisor import cgroups as cg
from edgeos.supervisor.seam import System

log = logging.getLogger(__name__)

REQUIRED = ("memory", "cpu", "pids")
OPTIONAL = ("cpuacct",)


def oom_kills(group: Path) -> int:
    """The ``oom_kill`` counter of a v1 memory cgroup (0 on kernels without it)."""
    for line in (group / "memory.oom_control").read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return 0


class CgroupV1:
    name = "cgroup-v1"

    def __init__(self, system: System, roots: dict[str, Path]) -> None:
        self.sys = system
        self.roots = roots  # controller -> our subtree in its hierarchy
        self._watched: dict[str, list[int]] = {}  # instance -> eventfds
        self._oom_base: dict[str, int] = {}
        # instance -> the limits its leaf has with its events armed, see place
        self._ready: dict[str, cg.LeafLimits] = {}
        self._sinks: dict[str, cg.EventSink] = {}  # instance -> its current process's sink

    @classmethod
    def detect(cls, system: System, mount: Path, lines: list[str]) -> CgroupV1 | None:
        """Our subtree in each v1 hierarchy we need, created; None if one is missing."""
        own: dict[str, str] = {}
        for line in lines:
            parts = line.split(":", 2)
            if len(parts) == 3 and parts[1]:
                for ctrl in parts[1].split(","):
                    own[ctrl] = parts[2].lstrip("/")
        wanted = [c for c in (*REQUIRED, *OPTIONAL) if c in own and (mount / c).is_dir()]
        if not all(c in wanted for c in REQUIRED):
            return None
        name = f"{cg.SUBTREE_PREFIX}{os.getpid()}"
        roots: dict[str, Path] = {}
        try:
            for ctrl in wanted:
                parent = mount / ctrl / own[ctrl]
                cg.remove_stale(parent, name)
                roots[ctrl] = parent / name
                roots[ctrl].mkdir(exist_ok=True)
            if (roots["memory"] / "memory.use_hierarchy").exists():
                with contextlib.suppress(OSError):  # fixed to 1 on recent kernels
                    (roots["memory"] / "memory.use_hierarchy").write_text("1")
        except OSError as exc:
            log.info("cgroup v1 hierarchies not usable (%s); using the fallback", exc)
            for root in roots.values():
                cg.remove_tree(root)
            return None
        log.info("limits enforced by cgroup v1 under %s", roots["memory"])
        return cls(system, roots)

    def leaf(self, ctrl: str, instance_id: str) -> Path:
        return self.roots[ctrl] / cg.leaf_name(instance_id)

    def _leaves(self, instance_id: str) -> list[Path]:
        """One leaf per distinct hierarchy (cpu and cpuacct may be mounted together)."""
        seen: dict[Path, Path] = {}
        for ctrl in self.roots:
            leaf = self.leaf(ctrl, instance_id)
            seen.setdefault(self.roots[ctrl].resolve(), leaf)
        return list(seen.values())

    def place(self, instance_id: str, pid: int, limits: dict[str, Any],
              sink: cg.EventSink) -> None:
        """A restart at once after a crash (no stop in between, same limits) reuses the
        leaf as it is, limits and armed events included: only the moves into it are
        written. Each write to a v1 ``cgroup.procs`` or limit file can wait milliseconds
        in the kernel (tens under load), and this runs between the fork of the
        replacement and the supervisor reading its READY (issue 16)."""
        want = cg.LeafLimits.of(limits)
        self._sinks[instance_id] = sink
        mem = self.leaf("memory", instance_id)
        if self._ready.get(instance_id) != want:
            self._configure(instance_id, want)
        for leaf in self._leaves(instance_id):
            (leaf / "cgroup.procs").write_text(str(pid))
        self._oom_base[instance_id] = oom_kills(mem)
        if self._ready.get(instance_id) != want:
            self._arm_events(instance_id, want)
            self._ready[instance_id] = want

    def _configure(self, instance_id: str, want: cg.LeafLimits) -> None:
        self.release(instance_id)
        for leaf in self._leaves(instance_id):
            leaf.mkdir(exist_ok=True)
        mem = self.leaf("memory", instance_id)
        cap = want.ram_bytes or -1
        memsw = mem / "memory.memsw.limit_in_bytes"
        if memsw.exists() and cap < 0:  # raise memsw before limit, lower it after
            memsw.write_text("-1")
        (mem / "memory.limit_in_bytes").write_text(str(cap))
        if memsw.exists() and cap > 0:
            memsw.write_text(str(cap))
        cpu = self.leaf("cpu", instance_id)
        (cpu / "cpu.cfs_period_us").write_text(str(cg.CPU_PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(str(want.cpu_quota_us or -1))
        (self.leaf("pids", instance_id) / "pids.max").write_text(str(want.pids))

    def _arm_events(self, instance_id: str, want: cg.LeafLimits) -> None:
        if not want.ram_bytes:
            return
        mem = self.leaf("memory", instance_id)
        fds = self._watched.setdefault(instance_id, [])
        threshold = want.warn_bytes or want.ram_bytes

        def crossed() -> None:  # either direction: one read tells which
            usage = int((mem / "memory.usage_in_bytes").read_text())
            if usage >= threshold:
                self._sinks[instance_id]("ram_warning", usage)

        fds.append(self._arm(mem, "memory.usage_in_bytes", str(threshold), crossed))
        fds.append(self._arm(mem, "memory.oom_control", "",
                             lambda: self._sinks[instance_id]("oom", oom_kills(mem))))

    def _arm(self, group: Path, target: str, args: str, callback: Any) -> int:
        """Register an eventfd for ``target`` with ``cgroup.event_control``, watch it."""
        efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            tfd = os.open(group / target, os.O_RDONLY | os.O_CLOEXEC)
            try:
                (group / "cgroup.event_control").write_text(f"{efd} {tfd} {args}".strip())
            finally:
                os.close(tfd)  # the kernel keeps what it needs; the eventfd holds the event
        except OSError:
            os.close(efd)
            raise

        def fired() -> None:
            try:
                os.eventfd_read(efd)
            except BlockingIOError:
                return
            try:
                callback()
            except OSError as exc:  # the leaf went away under us
                log.debug("cgroup event on %s: %s", group, exc)

        self.sys.watch_fd(efd, fired)
        return efd

    def release(self, instance_id: str) -> None:
        self._ready.pop(instance_id, None)  # the next place configures and arms afresh
        for efd in self._watched.pop(instance_id, []):
            self.sys.unwatch_fd(efd)
            os.close(efd)  # closing the eventfd unregisters the event in the kernel

    def oom_killed(self, instance_id: str) -> bool:
        return cg.oom_since(self._oom_base, instance_id,
                            lambda: oom_kills(self.leaf("memory", instance_id)))

    def kill(self, instance_id: str) -> bool:
        cg.kill_tasks(self.leaf("pids", instance_id) / "cgroup.procs")
        return True

    def throttled_s(self, instance_id: str) -> float:
        return cg.throttled(self.leaf("cpu", instance_id) / "cpu.stat", "throttled_time", 1e9)

    def remove(self, instance_id: str) -> None:
        self.release(instance_id)
        self._oom_base.pop(instance_id, None)
        self._sinks.pop(instance_id, None)
        for leaf in self._leaves(instance_id):
            with contextlib.suppress(OSError):  # still populated or already gone
                leaf.rmdir()

    def close(self) -> None:
        for instance_id in list(self._watched):
            self.release(instance_id)
        seen: set[Path] = set()
        for root in self.roots.values():
            if root.resolve() not in seen:
                seen.add(root.resolve())
                cg.remove_tree(root)
