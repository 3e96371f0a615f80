"""The one seam between the supervisor's logic and the operating system.

Every OS call the state machines make (spawn, signal, setpriority, watching for
exit, reading pipes) and every use of the clock go through :class:`System`, so unit
tests replace it with a fake that records calls and advances time by hand (the
idea of supervisor's ``DummyOptions``). Production uses :class:`AsyncioSystem`,
which notices child exits through pidfds on the event loop: an event, not a poll.
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
from typing import Protocol


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
    def watch_fd(self, fd: int, callback: Callable[[], None]) -> None: ...
    def unwatch_fd(self, fd: int) -> None: ...


class AsyncioSystem:
    """The real thing, on an asyncio event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._procs: dict[int, subprocess.Popen[bytes]] = {}

    def monotonic(self) -> float:
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self.loop.call_later(max(0.0, delay), callback)

    def jitter(self) -> float:
        return random.random()

    def spawn(self, argv: list[str], env: dict[str, str], stdin_data: bytes,
              on_exit: Callable[[int, int], None]) -> Spawned:
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
        import psutil

        try:
            children = psutil.Process(pid).children(recursive=True)
        except psutil.Error:
            children = []
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.send_signal(sig)
        self.signal(pid, sig)

    def setpriority(self, pid: int, nice: int) -> None:
        os.setpriority(os.PRIO_PROCESS, pid, nice)

    def watch_fd(self, fd: int, callback: Callable[[], None]) -> None:
        self.loop.add_reader(fd, callback)

    def unwatch_fd(self, fd: int) -> None:
        self.loop.remove_reader(fd)

    def reap_all(self) -> None:
        """Last resort at shutdown: SIGKILL whatever is still alive and wait for it."""
        for pid, proc in list(self._procs.items()):
            self.kill_tree(pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(2)
