"""Kernel enforcement of per-instance limits through cgroups, v1 or v2.

The daemon keeps one subtree of its own (named after its pid, so several daemons on
one host never share one) and gives every instance a leaf ``w-<id>`` in it with a
memory cap, a CPU quota and a task limit. Crossing 80 % of the cap and an OOM kill
reach the supervisor as events on its loop (eventfds on v1, inotify on v2's
``memory.events``), never by polling. :func:`detect` picks the backend this host
offers; None means the sampling fallback in :mod:`edgeos.supervisor.limits` applies.
Subtrees of dead daemons are removed at start, our own when the daemon stops.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from edgeos.supervisor.seam import System

log = logging.getLogger(__name__)

CPU_PERIOD_US = 100_000
RAM_WARN = 0.8
DEFAULT_PIDS = 256  # tasks (threads count too) per worker unless limits say max_pids
SUBTREE_PREFIX = "edgeos-"
STALE_WAIT_STEPS = 50  # x 20 ms: how long start-up waits for a dead daemon's leaves to empty

EventSink = Callable[[str, int], None]
"""``sink(kind, value)``: ``("ram_warning", usage_bytes)`` or ``("oom", count)``."""


class Backend(Protocol):
    """What the supervisor asks of a cgroup backend."""

    name: str

    def place(self, instance_id: str, pid: int, limits: dict[str, Any],
              sink: EventSink) -> None:
        """Move ``pid`` into the instance's leaf with its limits; arm the events."""
        ...

    def release(self, instance_id: str) -> None:
        """Stop watching the instance's events (its process is gone)."""
        ...

    def oom_killed(self, instance_id: str) -> bool:
        """Whether the kernel OOM-killed in the leaf since the last :meth:`place`."""
        ...

    def kill(self, instance_id: str) -> bool:
        """SIGKILL every task in the leaf; False if the backend can't."""
        ...

    def throttled_s(self, instance_id: str) -> float:
        """Seconds the kernel held the leaf back at its CPU quota."""
        ...

    def remove(self, instance_id: str) -> None:
        """Drop the (empty) leaf of an instance that is gone for good."""
        ...

    def close(self) -> None:
        """Remove every leaf and the daemon's subtree (after all children ended)."""
        ...


def bytes_of_mb(mb: Any) -> int:
    return int(float(mb) * 1024 * 1024)


def cpu_quota_us(share: Any) -> int | None:
    """``max_cpu_share`` (percent of one core) as a CFS quota per period; None = no cap."""
    if not share or float(share) >= 400:
        return None
    return max(1000, int(float(share) / 100 * CPU_PERIOD_US))


def membership(proc_cgroup: Path) -> list[str] | None:
    """The lines of ``/proc/self/cgroup`` (our place in each hierarchy); None if unreadable."""
    try:
        return proc_cgroup.read_text().splitlines()
    except OSError:
        return None


def unified(lines: list[str], mount: Path) -> str | None:
    """Our path in the cgroup v2 hierarchy on a pure v2 system (a ``0::`` line in
    ``/proc/self/cgroup`` and the unified hierarchy mounted at ``mount``), else None."""
    paths = [line.split("::", 1)[1] for line in lines if line.startswith("0::")]
    if not paths or not (mount / "cgroup.controllers").exists():
        return None
    return paths[0]


def leaf_name(instance_id: str) -> str:
    """An instance's leaf in the daemon's subtree, on v1 and v2 alike."""
    return f"w-{instance_id}"


@dataclass(frozen=True)
class LeafLimits:
    """An instance's limits as its leaf takes them, on v1 and v2 alike (None: no cap)."""

    ram_bytes: int | None
    warn_bytes: int | None  # the 80 % mark that raises ``ram_warning``
    cpu_quota_us: int | None  # per CPU_PERIOD_US
    pids: int

    @classmethod
    def of(cls, limits: dict[str, Any]) -> LeafLimits:
        ram = limits.get("max_ram_mb")
        cap = bytes_of_mb(ram) if ram else None
        return cls(cap, int(cap * RAM_WARN) if cap else None,
                   cpu_quota_us(limits.get("max_cpu_share")),
                   int(limits.get("max_pids") or DEFAULT_PIDS))


def oom_since(base: dict[str, int], instance_id: str, count: Callable[[], int]) -> bool:
    """Whether the leaf's OOM-kill ``count()`` grew past ``base`` (taken at placement);
    False when it cannot be read (the leaf is gone)."""
    try:
        now = count()
    except (OSError, ValueError):
        return False
    return now > base.get(instance_id, now)


def throttled(stat: Path, key: str, per_s: float) -> float:
    """One counter of a ``cpu.stat`` file in seconds (0 if it cannot be read)."""
    try:
        for line in stat.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value) / per_s
    except (OSError, ValueError):
        pass
    return 0.0


def remove_tree(group: Path) -> bool:
    """rmdir a cgroup dir and its child groups, deepest first; False if one stays."""
    ok = True
    try:
        children = sorted((p for p in group.iterdir() if p.is_dir()), reverse=True)
    except FileNotFoundError:  # removed meanwhile (another daemon's remove_stale)
        return True
    for child in children:
        ok = remove_tree(child) and ok
    try:
        group.rmdir()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("cgroup %s not removed: %s", group, exc)
        return False
    return ok


def remove_stale(parent: Path, own: str) -> None:
    """Remove the subtrees of daemons that are no longer running (pid in the name)."""
    for group in parent.glob(f"{SUBTREE_PREFIX}*"):
        pid = group.name[len(SUBTREE_PREFIX):]
        if group.name == own or not pid.isdigit() or not group.is_dir():
            continue
        if Path(f"/proc/{pid}").exists():
            continue  # that daemon still runs
        log.info("removing the cgroup subtree %s of a daemon that is gone", group)
        remove_dead_subtree(group)


def remove_dead_subtree(group: Path) -> bool:
    """End what a dead daemon left in its leaves, then remove its subtree."""
    try:
        leaves = [leaf / "cgroup.procs" for leaf in group.iterdir() if leaf.is_dir()]
    except FileNotFoundError:
        return True  # its daemon removed it meanwhile
    for procs in leaves:  # orphans of that daemon (PDEATHSIG may still be in flight)
        kill_tasks(procs)
    for _ in range(STALE_WAIT_STEPS):  # once, at start-up: until the kills took effect
        if not any(has_tasks(procs) for procs in leaves):
            break
        time.sleep(0.02)
    return remove_tree(group)


def remove_subtrees_of(daemon_pid: int, mount: Path = Path("/sys/fs/cgroup"),
                       proc_cgroup: Path = Path("/proc/self/cgroup")) -> None:
    """For whoever started a daemon that was SIGKILLed (tests): remove its subtrees,
    which sit beside the starter's own cgroup in every hierarchy."""
    name = f"{SUBTREE_PREFIX}{daemon_pid}"
    for line in proc_cgroup.read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        dirs = [mount / c for c in ctrls.split(",") if c] if ctrls else [mount]
        for base in dirs:
            group = base / path.lstrip("/") / name
            if group.is_dir():
                remove_dead_subtree(group)


def has_tasks(procs: Path) -> bool:
    """Whether a leaf still holds processes; a leaf removed meanwhile (its daemon was
    still shutting down: ENOENT, or ENODEV while the kernel tears it down) holds none."""
    try:
        return bool(procs.read_text().strip())
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENODEV):
            return False
        raise


def kill_tasks(procs: Path) -> None:
    """SIGKILL every process listed in a ``cgroup.procs`` file."""
    with contextlib.suppress(OSError):
        for line in procs.read_text().split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(line), 9)


def detect(system: System, mount: Path = Path("/sys/fs/cgroup"),
           proc_cgroup: Path = Path("/proc/self/cgroup")) -> Backend | None:
    """The backend this host offers us (v2 delegated subtree, else v1), or None. Each
    backend's module is imported only where it is tried: a host runs one of them, and
    the supervisor keeps what it imports (issue 16, RSS)."""
    lines = membership(proc_cgroup)
    if lines is None:
        return None
    if unified(lines, mount) is not None:
        from edgeos.supervisor.cgroups.v2 import CgroupV2

        found = CgroupV2.detect(system, mount, lines)
        if found is not None:
            return found
    from edgeos.supervisor.cgroups.v1 import CgroupV1

    return CgroupV1.detect(system, mount, lines)
