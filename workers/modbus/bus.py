"""Turn-taking on a shared serial line (RS485) between separate worker processes.

Every Modbus RTU instance on one serial device is its own OS process, and the master
side of RS485 must never talk twice at once. Each process takes an advisory
``flock`` on a lock file in the run dir, named after the device's real path (so
``/dev/serial/by-id/...`` and ``/dev/ttyUSB0`` are the same line), for the length of
one bus turn, and holds the port open only while it holds the lock: an idle process
cannot read bytes meant for another.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

POLL_S = 0.002


class LineBusy(TimeoutError):
    """Another process held the line for longer than we were willing to wait."""


class LineLock:
    """An advisory lock on one serial device, shared through a file in the run dir."""

    def __init__(self, run_dir: str | os.PathLike[str], port: str) -> None:
        real = os.path.realpath(port)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", real.strip("/"))
        self.path = Path(run_dir) / "locks" / f"serial-{safe}.lock"
        self.port = port
        self._fd: int | None = None

    def acquire(self, timeout: float, cancel: threading.Event | None = None) -> float:
        """Wait for the line; returns the seconds waited. LineBusy after ``timeout``."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        t0 = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fd = fd
                return time.monotonic() - t0
            except BlockingIOError:
                waited = time.monotonic() - t0
                if waited >= timeout or (cancel is not None and cancel.is_set()):
                    os.close(fd)
                    raise LineBusy(f"serial line {self.port} busy for {waited:.1f} s") from None
                time.sleep(POLL_S)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @contextlib.contextmanager
    def held(self, timeout: float, cancel: threading.Event | None = None) -> Iterator[float]:
        """The line for one turn; yields the seconds it took to get it."""
        waited = self.acquire(timeout, cancel)
        try:
            yield waited
        finally:
            self.release()
