"""The serial line lock between separate processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from edgeos.workers.modbus.bus import LineBusy, LineLock

HOLDER = """
import sys, time
from edgeos.workers.modbus.bus import LineLock
lock = LineLock(sys.argv[1], sys.argv[2])
with lock.held(5):
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
"""


def hold_in_another_process(run_dir: Path, port: str, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir), port, str(seconds)],
                            stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[3])
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_another_process_waits_for_its_turn(tmp_path: Path) -> None:
    proc = hold_in_another_process(tmp_path, "/dev/ttyUSB0", 0.4)
    try:
        lock = LineLock(tmp_path, "/dev/ttyUSB0")
        with pytest.raises(LineBusy, match="busy"):
            lock.acquire(0.1)
        waited = lock.acquire(5)
        assert waited > 0  # it got the line only once the other process let go
        assert proc.wait(5) == 0
        lock.release()
    finally:
        proc.kill()
        proc.wait()


def test_other_lines_are_independent_and_links_are_the_same_line(tmp_path: Path) -> None:
    target = tmp_path / "ttyUSB0"
    target.touch()
    link = tmp_path / "by-id-adapter"
    link.symlink_to(target)
    proc = hold_in_another_process(tmp_path, str(link), 5)
    try:
        assert LineLock(tmp_path, str(target)).path == LineLock(tmp_path, str(link)).path
        with pytest.raises(LineBusy):
            LineLock(tmp_path, str(target)).acquire(0.05)
        other = LineLock(tmp_path, "/dev/ttyUSB1")
        with other.held(0.05) as waited:
            assert waited < 0.05
    finally:
        proc.kill()
        proc.wait()


def test_a_waiting_turn_gives_up_when_cancelled(tmp_path: Path) -> None:
    proc = hold_in_another_process(tmp_path, "/dev/ttyS0", 5)
    try:
        cancel = threading.Event()
        threading.Timer(0.1, cancel.set).start()
        t0 = time.monotonic()
        with pytest.raises(LineBusy):
            LineLock(tmp_path, "/dev/ttyS0").acquire(10, cancel)
        assert time.monotonic() - t0 < 5
    finally:
        proc.kill()
        proc.wait()
