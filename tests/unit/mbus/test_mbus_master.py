"""Master link layer against a scripted fake port and pyserial's loop://."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import serial
from edgeos.workers.mbus.decoder.frame import long_frame, short_frame
from edgeos.workers.mbus.master import (
    Master,
    MBusError,
    MBusTimeout,
    Meter,
    PortError,
    secondary_mask,
)
from mbus_testdata import load_frame

KAMSTRUP = load_frame("kamstrup_382_005")


class FakePort:
    """A serial port whose answers come from a function of the request written."""

    def __init__(self, respond: Callable[[bytes], bytes]) -> None:
        self.respond = respond
        self.written: list[bytes] = []
        self.rx = bytearray()
        self.closed = False

    @property
    def in_waiting(self) -> int:
        return len(self.rx)

    def reset_input_buffer(self) -> None:
        self.rx.clear()

    def write(self, data: bytes) -> int:
        self.written.append(data)
        self.rx += self.respond(data)
        return len(data)

    def flush(self) -> None:
        pass

    def read(self, size: int) -> bytes:
        if not self.rx:
            time.sleep(0.002)
            return b""
        chunk = bytes(self.rx[:size])
        del self.rx[:size]
        return chunk

    def close(self) -> None:
        self.closed = True


def master_with(respond: Callable[[bytes], bytes], **kwargs: object) -> tuple[Master, FakePort]:
    port = FakePort(respond)
    kwargs.setdefault("timeout_s", 0.1)
    master = Master("fake", serial_factory=lambda *a, **k: port, **kwargs)  # type: ignore[arg-type]
    return master, port


def test_req_ud2_returns_the_frame_and_read_decodes_it() -> None:
    master, port = master_with(lambda request: KAMSTRUP)
    assert master.req_ud2(0x78) == KAMSTRUP
    assert port.written == [short_frame(0x5B, 0x78)]
    assert master.read(Meter(address=0x78))["id"] == "14839120"


def test_snd_nke_needs_an_ack() -> None:
    master, port = master_with(lambda request: b"\xe5")
    master.snd_nke(3)
    assert port.written == [bytes.fromhex("10 40 03 43 16")]


def test_select_secondary_sends_snd_ud_with_mask_then_reads_0xfd() -> None:
    master, port = master_with(lambda request: b"\xe5" if request[0] == 0x68 else KAMSTRUP)
    data = master.read(Meter(secondary="148391202D2C0102"))
    assert data["secondary_address"] == "148391202D2C0102"
    select, request = port.written
    assert select == long_frame(0x53, 0xFD, 0x52, bytes.fromhex("20918314 2D2C 01 02"))
    assert request == short_frame(0x5B, 0xFD)


def test_secondary_mask_wildcards() -> None:
    assert secondary_mask("1234FFFFFFFFFFFF") == bytes.fromhex("FF FF 34 12 FF FF FF FF")
    with pytest.raises(ValueError, match="16 hex digits"):
        secondary_mask("1234")


def test_echo_and_garbage_before_the_answer_are_skipped() -> None:
    # A level converter that echoes the request, then line noise, then a corrupt copy.
    corrupt = KAMSTRUP[:-2] + bytes((KAMSTRUP[-2] ^ 1, 0x16))
    master, _ = master_with(lambda request: request + b"\x00\xff\x68\x10" + corrupt + KAMSTRUP)
    assert master.req_ud2(0x78) == KAMSTRUP


def test_bogus_frame_head_does_not_hide_the_answer() -> None:
    # 68 FF FF 68 promises 261 bytes that never come; the line then goes quiet.
    master, _ = master_with(lambda request: b"\x68\xff\xff\x68" + KAMSTRUP, timeout_s=5)
    started = time.monotonic()
    assert master.req_ud2(0x78) == KAMSTRUP
    assert time.monotonic() - started < 1.0  # found when the line went idle, not at 5 s


def test_silence_times_out_after_every_retry() -> None:
    master, port = master_with(lambda request: b"", timeout_s=0.05, retries=2)
    started = time.monotonic()
    with pytest.raises(MBusTimeout, match=r"no answer within 0\.05 s"):
        master.req_ud2(1)
    assert len(port.written) == 3
    assert time.monotonic() - started < 1.0


def test_only_garbage_is_an_error_not_a_hang() -> None:
    master, _ = master_with(lambda request: b"\x00\x01\x02", retries=0)
    with pytest.raises(MBusError, match="no valid answer in 3 received byte"):
        master.req_ud2(1)


def test_undecodable_answer_is_an_mbus_error() -> None:
    bad = long_frame(0x08, 1, 0x51, b"")  # valid framing, unsupported CI
    master, _ = master_with(lambda request: bad)
    with pytest.raises(MBusError, match="unsupported CI"):
        master.read(Meter(address=1))


def test_port_failure_closes_and_reopens() -> None:
    opened: list[FakePort] = []

    def factory(*args: object, **kwargs: object) -> FakePort:
        port = FakePort(lambda request: b"\xe5")
        if not opened:
            port.write = _raise  # type: ignore[method-assign]
        opened.append(port)
        return port

    master = Master("fake", serial_factory=factory, timeout_s=0.05)  # type: ignore[arg-type]
    with pytest.raises(PortError):
        master.snd_nke(1)
    assert opened[0].closed
    master.snd_nke(1)
    assert len(opened) == 2


def _raise(data: bytes) -> int:
    raise serial.SerialException("device disconnected")


def test_unopenable_port_is_a_port_error() -> None:
    with pytest.raises(PortError, match="cannot open"):
        Master("/nonexistent/tty", timeout_s=0.05).snd_nke(1)


def test_loop_url_hears_only_its_own_echo() -> None:
    """loop:// returns what was written: the echo is skipped and the wait still ends."""
    with Master("loop://", timeout_s=0.05, retries=0) as master, \
            pytest.raises(MBusError, match="no valid answer in 5 received byte"):
        master.snd_nke(1)


@pytest.mark.parametrize(("entry", "key"), [
    ({"address": 5}, "primary:5"),
    ({"secondary": "148391202d2c0102"}, "secondary:148391202D2C0102"),
])
def test_meter_from_config(entry: dict, key: str) -> None:
    assert Meter.from_config(entry).key == key


@pytest.mark.parametrize("entry", [{}, {"address": 1, "secondary": "0" * 16}, {"address": 251},
                                   {"secondary": "xyz"}])
def test_meter_config_errors(entry: dict) -> None:
    with pytest.raises(ValueError):
        Meter.from_config(entry)
