"""Helpers every integration test shares: waiting for a condition, and helper
processes (device emulators, peers) that say "ready" on stdout and are ended by pid."""

from __future__ import annotations

import contextlib
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

FAKE_BLUEZ = Path(__file__).resolve().parent / "bms" / "bms_fake_bluez.py"


#: the default poll interval; from it up, a slow probe is paced (see :func:`wait_until`)
PACED_FROM = 0.05


def wait_until(pred: Callable[[], Any], timeout: float = 20, what: str = "condition",
               interval: float = PACED_FROM, check: Callable[[], None] | None = None,
               context: Callable[[], str] | None = None) -> Any:
    """Poll ``pred`` until it returns something truthy; exceptions count as "not yet".

    ``check`` is called each round and may raise (a peer process died); ``context``
    adds text (a log tail) to the timeout message. A probe that takes longer than
    ``interval`` (one that runs ``edgectl``: ~0.45 CPU-s a call) is paced to run at most
    half the time, pausing as long as it took up to 1 s: polled back to back it kept a
    core busy for as long as a test waited (docs/suite-time.md). A caller that asks for
    a shorter ``interval`` than the default (it waits for a short window) keeps it.
    """
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        if check is not None:
            check()
        began = time.monotonic()
        try:
            result = pred()
            if result:
                return result
        except Exception as exc:  # not there yet
            last_exc = exc
        took = time.monotonic() - began
        time.sleep(interval if interval < PACED_FROM else max(interval, min(took, 1.0)))
    tail = f"\n{context()}" if context is not None else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what} "
                         f"(last error: {last_exc}){tail}")


class Peer:
    """A helper process that prints a line starting with ``ready`` once it serves."""

    def __init__(self, argv: list[str], ready: str, timeout: float = 10,
                 stderr: int | None = None) -> None:
        self.argv, self.ready, self.timeout, self.stderr = argv, ready, timeout, stderr
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self.stderr,
                                     text=True)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        self.line = self.proc.stdout.readline().strip() if ready else ""
        if not self.line.startswith(self.ready):
            self.stop()
            raise AssertionError(f"{self.argv[:3]} did not start: {self.line!r}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@contextlib.contextmanager
def bluez_bus(tmp_path: Path, advertisers: list[str]) -> Iterator[str]:
    """A private D-Bus (``dbus-daemon --session``) with the BlueZ stand-in
    (``bms_fake_bluez.py``) announcing ``advertisers``; yields the bus address, to be set as
    ``DBUS_SYSTEM_BUS_ADDRESS`` for whatever should scan there."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed (Debian package dbus-daemon)")
    bus = Peer(["dbus-daemon", "--session", "--nofork", "--print-address=1",
                f"--address=unix:path={tmp_path / 'bus'}"], "unix:")
    try:
        bluez = Peer([sys.executable, str(FAKE_BLUEZ),
                      "--bus", bus.line, *(f"--device={spec}" for spec in advertisers)],
                     "ready")
        try:
            yield bus.line
        finally:
            bluez.stop()
    finally:
        bus.stop()
