"""A fake :class:`edgeos.supervisor.seam.System`: records OS calls, time moves by hand."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from edgeos.supervisor.seam import ProcStats, Spawned


@dataclass(order=True)
class FakeTimer:
    due: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class FakeSystem:
    def __init__(self, jitter: float = 0.5) -> None:
        self.now = 1000.0
        self._jitter = jitter
        self._timers: list[FakeTimer] = []
        self._seq = itertools.count()
        self._pids = itertools.count(100)
        self.spawned: list[tuple[int, list[str]]] = []
        self.signals: list[tuple[int, int]] = []
        self.priorities: list[tuple[int, int]] = []
        self._on_exit: dict[int, Callable[[int, int], None]] = {}
        self.rss: dict[int, float] = {}
        self.cpu: dict[int, float] = {}
        self.proc_reads: list[tuple[int, bool]] = []  # (pid, with io) per proc_stats
        self.watched: dict[int, Callable[[], None]] = {}
        self.preforked: list[str] = []

    # System protocol
    def monotonic(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(self.now + max(0.0, delay), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def jitter(self) -> float:
        return self._jitter

    def spawn(self, argv: list[str], env: dict[str, str], stdin_data: bytes,
              on_exit: Callable[[int, int], None]) -> Spawned:
        pid = next(self._pids)
        self.spawned.append((pid, argv))
        self._on_exit[pid] = on_exit
        return Spawned(pid, None, None)

    def signal(self, pid: int, sig: int) -> None:
        self.signals.append((pid, sig))

    def kill_tree(self, pid: int, sig: int) -> None:
        self.signals.append((pid, sig))

    def setpriority(self, pid: int, nice: int) -> None:
        self.priorities.append((pid, nice))

    def set_ionice(self, pid: int, level: int) -> None:
        self.priorities.append((pid, 100 + level))

    def set_affinity(self, pid: int, cpus: list[int]) -> None:
        self.affinity = (pid, cpus)

    def prefork(self, kind: str, env: dict[str, str]) -> None:
        self.preforked.append(kind)

    def watch_fd(self, fd: int, callback: Callable[[], None]) -> None:
        self.watched[fd] = callback

    def unwatch_fd(self, fd: int) -> None:
        self.watched.pop(fd, None)

    def rss_mb(self, pid: int) -> float | None:
        return self.rss.get(pid)

    def cpu_seconds(self, pid: int) -> float | None:
        return self.cpu.get(pid)

    def proc_stats(self, pid: int, io: bool = True) -> ProcStats | None:
        self.proc_reads.append((pid, io))
        if pid not in self.rss and pid not in self.cpu:
            return None
        return ProcStats(self.cpu.get(pid, 0.0), self.rss.get(pid, 0.0), 0,
                         *((0, 0) if io else (None, None)))

    # test controls
    def exit(self, pid: int, code: int) -> None:
        """The process ``pid`` ends with ``code`` (as the kernel would report)."""
        self._on_exit.pop(pid)(pid, code)

    def advance(self, seconds: float) -> None:
        """Move the clock, firing due timers in order."""
        end = self.now + seconds
        while self._timers and self._timers[0].due <= end:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self.now = timer.due
            timer.callback()
        self.now = end

    @property
    def last_pid(self) -> int:
        return self.spawned[-1][0]
