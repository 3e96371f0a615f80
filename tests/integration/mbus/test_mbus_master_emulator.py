"""Master and emulated meters over a real pty pair, in-thread and as a separate process."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from edgeos.workers.mbus.emulator import EmulatedMeter, MeterEmulator
from edgeos.workers.mbus.master import (
    CircuitBreaker,
    Master,
    MBusTimeout,
    Meter,
    Poller,
)

from tests.paths import REPO
from tests.paths import TESTDATA as ALL_TESTDATA

TESTDATA = ALL_TESTDATA / "mbus"
TIMEOUT_S = 0.2


def frame(name: str) -> bytes:
    return bytes.fromhex((TESTDATA / f"{name}.hex").read_text())


KAMSTRUP = frame("kamstrup_multical_601")  # secondary 06855817 2D2C 08 04
EMU = frame("EMU_EMU-Professional-375-M-Bus")  # secondary 00032629 B515 10 02


@pytest.fixture(autouse=True)
def no_threads_left_behind() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not set(threading.enumerate()) - before


@pytest.fixture
def bus() -> Iterator[MeterEmulator]:
    meters = [EmulatedMeter(KAMSTRUP, address=5), EmulatedMeter(EMU, address=7)]
    with MeterEmulator(meters) as emulator:
        yield emulator


@pytest.fixture
def master(bus: MeterEmulator) -> Iterator[Master]:
    with Master(bus.port, timeout_s=TIMEOUT_S, retries=0) as m:
        yield m


def test_primary_addressing(master: Master) -> None:
    master.snd_nke(5)
    kamstrup = master.read(Meter(address=5))
    emu = master.read(Meter(address=7))
    assert (kamstrup["id"], kamstrup["manufacturer"], kamstrup["address"]) == ("6855817", "KAM", 5)
    assert (emu["id"], emu["manufacturer"], emu["address"]) == ("32629", "EMU", 7)
    assert len(kamstrup["records"]) == 28


def test_absent_primary_address_times_out(master: Master) -> None:
    with pytest.raises(MBusTimeout):
        master.snd_nke(9)


def test_secondary_addressing(master: Master) -> None:
    emu = master.read(Meter(secondary="00032629B5151002"))
    assert emu["id"] == "32629"
    kamstrup = master.read(Meter(secondary="068558172D2C0804"))
    assert kamstrup["id"] == "6855817"
    wildcard = master.read(Meter(secondary="FFFFFFFF2D2CFFFF"))  # any meter made by KAM
    assert wildcard["id"] == "6855817"


def test_unknown_secondary_address_is_not_selected(master: Master) -> None:
    with pytest.raises(MBusTimeout, match="select 1234567"):
        master.read(Meter(secondary="12345678FFFFFFFF"))


def test_silent_meter_trips_its_breaker_while_the_other_answers(
        bus: MeterEmulator, master: Master) -> None:
    clock = [0.0]
    poller = Poller(master, [Meter(address=5), Meter(address=7)],
                    CircuitBreaker(threshold=1, base_delay_s=30, clock=lambda: clock[0]))
    bus.meter(7).silent = True

    started = time.monotonic()
    first = poller.poll_once()
    assert first[0].ok and isinstance(first[0].data, dict)
    assert not first[1].ok and "no answer" in (first[1].error or "")
    assert time.monotonic() - started < TIMEOUT_S + 1.0  # one bounded wait, no hang
    assert poller.breaker.state("primary:7") == "open"

    asked = bus.requests
    started = time.monotonic()
    second = poller.poll_once()
    assert second[0].ok and second[1].skipped
    assert bus.requests == asked + 1  # only the answering meter was asked
    assert time.monotonic() - started < TIMEOUT_S  # the silent meter cost no timeout

    bus.meter(7).silent = False
    clock[0] += 30
    third = poller.poll_once()
    assert all(r.ok for r in third)
    assert poller.breaker.state("primary:7") == "closed"


def test_garbage_on_the_line_is_resynchronised(bus: MeterEmulator, master: Master) -> None:
    corrupt = KAMSTRUP[:-2] + bytes(((KAMSTRUP[-2] + 1) & 0xFF, 0x16))
    for garbage in (b"\x00\xff\x10\x5b", b"\x68\xff\xff\x68\x01\x02", corrupt, b"\xe5\x68"):
        bus.inject_garbage(garbage)
        started = time.monotonic()
        assert master.read(Meter(address=5))["id"] == "6855817"
        assert time.monotonic() - started < 1.0


def test_async_poll_over_the_pty(bus: MeterEmulator) -> None:
    master = Master(bus.port, timeout_s=TIMEOUT_S, retries=0)
    poller = Poller(master, [Meter(address=5), Meter(secondary="00032629B5151002")])
    try:
        readings = asyncio.run(poller.apoll_once())
    finally:
        poller.close()
    assert [r.data["id"] for r in readings if r.data] == ["6855817", "32629"]


def _wait_for_line(process: subprocess.Popen[str], timeout_s: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout_s)
    assert ready, "emulator did not report ready"
    return process.stdout.readline()


def _falls_silent(master: Master, meter: Meter, within_s: float = 5) -> bool:
    """True once the meter stops answering (a signal to the emulator lands asynchronously)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            master.read(meter)
        except MBusTimeout:
            return True
    return False


def test_emulator_as_a_process(tmp_path: Path) -> None:
    link = tmp_path / "mbus0"
    process = subprocess.Popen(
        [sys.executable, "-m", "edgeos.workers.mbus.emulator", "--pty-link", str(link),
         "--frame", f"{TESTDATA / 'kamstrup_multical_601.hex'}@5",
         "--frame", str(TESTDATA / "tecson.hex")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for_line(process, 10).startswith("ready /dev/")
        assert link.is_symlink()
        with Master(str(link), timeout_s=TIMEOUT_S, retries=0) as master:
            assert master.read(Meter(address=5))["id"] == "6855817"
            assert master.read(Meter(address=0))["manufacturer"] == "TEC"  # A field of file
            os.kill(process.pid, signal.SIGUSR1)  # all meters go silent
            assert _falls_silent(master, Meter(address=5))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert not link.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()
