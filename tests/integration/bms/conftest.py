"""Fixtures of the BMS transport tests: a pty pair, and a check that no test leaves a
thread behind."""

from __future__ import annotations

import os
import threading
import time
import tty
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2
    while (extra := set(threading.enumerate()) - before) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not extra, f"threads left behind: {extra}"


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    """(master fd for the emulator, slave path for the transport)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(slave)
        os.close(master)
