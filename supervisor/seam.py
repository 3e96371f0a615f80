"""The one seam between the supervisor's logic and the operating system.

Every OS call the state machines make (spawn, signal, setpriority, watching for
exit, reading pipes) and every use of the clock go through :class:`System`, so unit
tests replace it with a fake that records calls and advances time by hand (the
idea of supervisor's ``DummyOptions``). Production uses :class:`AsyncioSystem`,
which notices child exits through pidfds on the event loop: an event, not a poll.
The arbiter's other collaborators (zmq context, log book, error store, Sentry, audit
log, environment, euid, cgroups) come through :class:`edgeos.supervisor.parts.Parts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from edgeos.supervisor.procfs import ProcFiles, children_map, descendants

if TYPE_CHECKING:
    from edgeos.supervisor.forkserver import ForkServers


class Timer(Protocol):
    def cancel(self) -> None: ...


@dataclass
class Spawned:
    """A started child: its pid and the read ends of its stdout/stderr pipes."""

    pid: int
    stdout: int | None
    stderr: int | None


class System(Protocol):
    """What the supervisor needs from the OS and the clock."""

    def monotonic(self) -> float: ...
    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer: ...
    def jitter(self) -> float:
        """A random factor in [0, 1) for back-off jitter."""
        ...
    def spawn(self, argv: list[str], env: dict[str, str], stdin_data: bytes,
              on_exit: Callable[[int, int], None]) -> Spawned:
        """Start ``argv``; ``on_exit(pid, code)`` is called once when it ends."""
        ...
    def signal(self, pid: int, sig: int) -> None: ...
    def kill_tree(self, pid: int, sig: int) -> None:
        """Send ``sig`` to the process group led by ``pid`` and to all descendants."""
        ...
    def setpriority(self, pid: int, nice: int) -> None: ...
    def set_ionice(self, pid: int, level: int) -> None:
        """Best-effort I/O priority 0 (high) .. 7 (low)."""
        ...
    def set_affinity(self, pid: int, cpus: list[int]) -> None: ...
    def prefork(self, kind: str, env: dict[str, str]) -> None:
        """A hint: workers of type ``kind`` are about to start; get a template ready."""
        ...
    def watch_fd(self, fd: int, callback: Callable[[], None]) -> None: ...
    def unwatch_fd(self, fd: int) -> None: ...
    def rss_mb(self, pid: int) -> float | None:
        """Resident memory of ``pid`` in MB, None if it is gone."""
        ...
    def cpu_seconds(self, pid: int) -> float | None:
        """User + system CPU time ``pid`` has used, None if it is gone."""
        ...
    def proc_stats(self, pid: int, io: bool = True) -> ProcStats | None:
        """CPU time, RSS, nice and (with ``io``) disk I/O of ``pid`` in one go, None if
        it is gone."""
        ...


@dataclass
class ProcStats:
    cpu_s: float
    rss_mb: float
    nice: int
    read_bytes: int | None  # None: not read this time (``io=False``)
    write_bytes: int | None


PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


class AsyncioSystem:
    """The real thing, on an asyncio event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self.proc_files = ProcFiles()
        self._table: dict[int, list[int]] | None = None  # see _process_table
        self.forks: ForkServers | None = None
        if os.environ.get("EDGEOS_FORKSERVER") != "off":
            from edgeos.supervisor.forkserver import ForkServers

            self.forks = ForkServers(loop, lambda: set(self._procs))

    def monotonic(self) -> float:
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self.loop.call_later(max(0.0, delay), callback)

    def jitter(self) -> float:
        return random.random()

    def spawn(self, argv: list[str], env: dict[str, str], stdin_data: bytes,
              on_exit: Callable[[int, int], None]) -> Spawned:
        def ended(pid: int, code: int) -> None:
            self.proc_files.forget(pid)
            on_exit(pid, code)

        return self._spawn(argv, env, stdin_data, ended)

    def _spawn(self, argv: list[str], env: dict[str, str], stdin_data: bytes,
               on_exit: Callable[[int, int], None]) -> Spawned:
        if self.forks is not None and argv[-2:] == ["-m", "edgeos.workers"]:
            forked = self.forks.spawn(stdin_data, env, on_exit)
            if forked is not None:
                return forked
        elif self.forks is not None:  # a service: forked from the zygote if there is one
            forked = self.forks.spawn_service(argv, stdin_data, env, on_exit)
            if forked is not None:
                return forked
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=out_w,
                                    stderr=err_w, start_new_session=True, close_fds=True)
        except OSError:
            for fd in (out_r, err_r):
                os.close(fd)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # died at once: the exit event says so
            proc.stdin.write(stdin_data)
            proc.stdin.close()
        self._procs[proc.pid] = proc
        pidfd = os.pidfd_open(proc.pid)

        def exited() -> None:
            code = proc.poll()
            if code is None:
                return
            self.loop.remove_reader(pidfd)
            os.close(pidfd)
            self._procs.pop(proc.pid, None)
            on_exit(proc.pid, code)

        self.loop.add_reader(pidfd, exited)
        os.set_blocking(out_r, False)
        os.set_blocking(err_r, False)
        return Spawned(proc.pid, out_r, err_r)

    def signal(self, pid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def kill_tree(self, pid: int, sig: int) -> None:
        children = descendants(self._process_table(), pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        for child in children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, sig)
        self.signal(pid, sig)

    def _process_table(self) -> dict[int, list[int]]:
        """Who is whose child, read once for all the signals sent in one step of the
        loop: a stop of every instance (daemon stop, panic, a reload) scans /proc once,
        not once per instance (issue 16). The next step reads it afresh."""
        if self._table is None:
            self._table = children_map()
            if not self.loop.is_closed():
                self.loop.call_soon(self._forget_table)
        return self._table

    def _forget_table(self) -> None:
        self._table = None

    def setpriority(self, pid: int, nice: int) -> None:
        """Every thread of ``pid``: Linux keeps a nice per thread, and the threads a
        worker started before READY (zmq's) would keep the supervisor's."""
        os.setpriority(os.PRIO_PROCESS, pid, nice)
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{pid}/task"):
                if int(tid) != pid:
                    with contextlib.suppress(OSError):  # (a thread that just ended)
                        os.setpriority(os.PRIO_PROCESS, int(tid), nice)

    def set_ionice(self, pid: int, level: int) -> None:
        import psutil

        psutil.Process(pid).ionice(psutil.IOPRIO_CLASS_BE, level)

    def set_affinity(self, pid: int, cpus: list[int]) -> None:
        os.sched_setaffinity(pid, cpus)

    def prefork(self, kind: str, env: dict[str, str]) -> None:
        if self.forks is not None:
            self.forks.prepare(kind, env)

    def watch_fd(self, fd: int, callback: Callable[[], None]) -> None:
        self.loop.add_reader(fd, callback)

    def unwatch_fd(self, fd: int) -> None:
        self.loop.remove_reader(fd)

    def rss_mb(self, pid: int) -> float | None:
        statm = self.proc_files.read(pid, "statm")
        if statm is None:
            return None
        try:
            return int(statm.split()[1]) * PAGE_MB
        except (IndexError, ValueError):
            return None

    def cpu_seconds(self, pid: int) -> float | None:
        stat = self.proc_files.read(pid, "stat")
        if stat is None:
            return None
        try:
            fields = stat.rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) * TICK_S
        except (IndexError, ValueError):
            return None

    def proc_stats(self, pid: int, io: bool = True) -> ProcStats | None:
        raw = self.proc_files.read(pid, "stat")  # /proc/PID/stat has the RSS (pages) too
        if raw is None:
            return None
        try:
            stat = raw.rsplit(b")", 1)[1].split()
            cpu_s, rss_pages, nice = (int(stat[11]) + int(stat[12])) * TICK_S, int(stat[21]), \
                int(stat[16])
        except (IndexError, ValueError):
            return None
        if not io:
            return ProcStats(cpu_s, rss_pages * PAGE_MB, nice, None, None)
        counters = {}
        raw_io = self.proc_files.read(pid, "io")  # (needs the same user, or root)
        with contextlib.suppress(ValueError):
            counters = dict(line.split(b": ") for line in raw_io.splitlines()) if raw_io \
                else {}
        return ProcStats(cpu_s=cpu_s, rss_mb=rss_pages * PAGE_MB, nice=nice,
                         read_bytes=int(counters.get(b"read_bytes", 0)),
                         write_bytes=int(counters.get(b"write_bytes", 0)))

    def reap_all(self) -> None:
        """Last resort at shutdown: SIGKILL whatever is still alive and wait for it."""
        for pid, proc in list(self._procs.items()):
            self.kill_tree(pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(2)
        if self.forks is not None:
            for pid in list(self.forks.forked):
                self.kill_tree(pid, signal.SIGKILL)
            self.forks.wait_all()
        self.proc_files.close()
