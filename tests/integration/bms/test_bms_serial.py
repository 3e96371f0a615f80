"""SerialTransport against a device emulator on a pty pair, and over pyserial URLs."""

from __future__ import annotations

import asyncio
import time

import pytest
from bms_link_support import TESTDATA, DeviceEmulator, hex_frames, vectors
from edgeos.workers.bms import BmsTimeout, Options, TransportError, decode
from edgeos.workers.bms.protocols import ant, daly, jbd
from edgeos.workers.bms.transports.serial import SerialTransport

V = vectors()


def capture_pairs(name: str) -> dict[bytes, list[bytes]]:
    """Request -> replies, in the order a JBD capture file shows them."""
    answers: dict[bytes, list[bytes]] = {}
    for line in (TESTDATA / "jbd" / name).read_text().splitlines():
        request, _, reply = line.removeprefix(">>> ").partition(" <<< ")
        key = bytes.fromhex(request.replace(":", ""))
        answers.setdefault(key, []).append(bytes.fromhex(reply.replace(":", "")))
    return answers


async def poll_times(transport: SerialTransport, times: int) -> list[dict]:
    try:
        return [await transport.poll() for _ in range(times)]
    finally:
        await transport.close()


def test_jbd_replayed_capture(pty_pair) -> None:
    master, path = pty_pair
    answers = capture_pairs("JBD-SP04S034-L4S-200A-B-U.txt")
    stale_cells = answers[jbd.request(jbd.CELLS)][0]
    # A late 0x04 answer sitting in front of the 0x03 answer must be ignored.
    answers[jbd.request(jbd.BASIC)] = [stale_cells + r for r in answers[jbd.request(jbd.BASIC)]]
    with DeviceEmulator(master, answers) as device:
        first, second = asyncio.run(poll_times(SerialTransport(path, "jbd"), 2))
    assert device.requests == [jbd.request(jbd.BASIC), jbd.request(jbd.CELLS)] * 2
    expected = decode("jbd", [hex_frames(V["jbd_basic_4s_sp04s034"])])
    assert {k: first[k] for k in expected} == expected
    assert first["cells.2"] == 3.901 and second["cells.2"] == 3.902
    assert first["temperatures.2"] == 22.3 and second["temperatures.2"] == 22.2


def test_daly_full_cycle(pty_pair) -> None:
    master, path = pty_pair

    def frame(command: int, data: bytes) -> bytes:
        body = bytes((0xA5, 0x01, command, 8)) + data
        return body + bytes((daly.checksum(body),))

    answers = {
        bytes.fromhex(v["request_hex"]): [hex_frames(v)] for v in V.values() if v["kind"] == "daly"
    }
    answers[daly.request(0x92)] = [frame(0x92, bytes((65, 1, 63, 1, 0, 0, 0, 0)))]
    answers[daly.request(0x96)] = [frame(0x96, bytes((1, 65, 0, 0, 0, 0, 0, 0)))]
    answers[daly.request(0x97)] = [frame(0x97, bytes(8))]
    answers[daly.request(0x98)] = [frame(0x98, bytes(8))]
    with DeviceEmulator(master, answers) as device:
        (reading,) = asyncio.run(poll_times(SerialTransport(path, "daly"), 1))
    assert len(device.requests) == 9
    expected = V["daly_0x95_cell_voltages_16s"]["expected"]["cell_voltages_v"]
    assert [reading[f"cells.{n}"] for n in range(1, 17)] == expected
    assert "cells.17" not in reading
    assert reading["temperatures.1"] == 25 and "temperatures.2" not in reading
    assert (reading["voltage"], reading["current"], reading["soc"]) == (53.2, 2.1, 88.8)
    assert (reading["capacity_remaining"], reading["cycles"]) == (172.76, 3)
    assert reading["charge_mos"] is True and reading["alarms.short_circuit"] is False


@pytest.mark.parametrize(
    ("variant", "status_request", "vector"),
    [
        ("2021", ant.STATUS_REQUEST, "ant_v2021_status_16s"),
        ("legacy", ant.LEGACY_REQUEST, "ant_legacy_status_14s"),
    ],
)
def test_ant_variants(pty_pair, variant: str, status_request: bytes, vector: str) -> None:
    master, path = pty_pair
    reply = hex_frames(V[vector])
    transport = SerialTransport(path, "ant", options=Options(ant_variant=variant))
    with DeviceEmulator(master, {status_request: [reply]}):
        (reading,) = asyncio.run(poll_times(transport, 1))
    assert reading == decode("ant", [reply])


def test_silent_device_times_out_and_link_recovers(pty_pair) -> None:
    master, path = pty_pair
    answers = capture_pairs("JBD-SP04S034-L4S-200A-B-U.txt")

    async def scenario(device: DeviceEmulator) -> dict:
        transport = SerialTransport(path, "jbd", timeout=0.3)
        try:
            device.silent = True
            started = time.monotonic()
            with pytest.raises(
                BmsTimeout, match=r"did not answer DD A5 03 00 FF FD 77 within 0.3 s"
            ):
                await transport.poll()
            assert time.monotonic() - started < 1.5
            device.silent = False
            return await transport.poll()
        finally:
            await transport.close()

    with DeviceEmulator(master, answers) as device:
        reading = asyncio.run(scenario(device))
    assert reading["voltage"] == 15.6


def test_corrupt_answer_times_out_with_the_reason(pty_pair) -> None:
    master, path = pty_pair
    corrupt = bytes.fromhex(V["jbd_basic_4s_sp04s034"]["frame_hex"].replace("FA 8D", "FA 8E"))
    with (
        DeviceEmulator(master, {jbd.request(jbd.BASIC): [corrupt]}),
        pytest.raises(BmsTimeout, match="last frame discarded: JBD checksum mismatch"),
    ):
        asyncio.run(poll_times(SerialTransport(path, "jbd", timeout=0.3), 1))


def test_loop_url_echo_is_not_an_answer() -> None:
    with pytest.raises(BmsTimeout, match="got 0 of 1 frames"):
        asyncio.run(poll_times(SerialTransport("loop://", "jbd", timeout=0.2), 1))


def test_missing_port_is_a_transport_error() -> None:
    with pytest.raises(TransportError, match="cannot open serial port /nonexistent/ttyBMS"):
        asyncio.run(poll_times(SerialTransport("/nonexistent/ttyBMS", "daly"), 1))


def test_victron_has_no_serial_variant() -> None:
    with pytest.raises(ValueError, match="only advertises over BLE"):
        SerialTransport("loop://", "victron")
