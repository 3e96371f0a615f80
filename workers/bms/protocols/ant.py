"""ANT BMS: the 2021 protocol (``7E A1``, little-endian, CRC-16/MODBUS) and the legacy 2019
status frame (``AA 55 AA FF``, 140 bytes, big-endian, 16-bit byte sum).

2021 frame: ``7E A1 <function> <address LE16> <len> <data> <crc LE16> AA 55``; the CRC covers
everything from ``A1`` to the end of the data. Only the status answer (function 0x11) is
decoded. Neither variant carries named protection bits that are documented, so the alarms
are derived from the reason codes the BMS gives for a switched-off charge/discharge MOSFET.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from ..errors import DecodeError
from ..model import Reading, add_cells, add_temperatures
from . import Framing, Options, Request, check_length, check_sum

START = b"\x7e\xa1"
END = b"\xaa\x55"
LEGACY_START = b"\xaa\x55\xaa\xff"
LEGACY_LEN = 140
LEGACY_REQUEST = bytes.fromhex("DBDB00000000")
STATUS_FUNCTION = 0x11
STATUS_FIXED = 106  # data bytes of a status frame besides cells and temperature sensors
MAX_CELLS = 32

STATES = ("unknown", "idle", "charging", "discharging", "standby", "error")
CHARGE_MOS = (
    "off", "on", "overcharge_protection", "overcurrent_protection", "battery_full",
    "pack_overvoltage", "battery_overtemperature", "mosfet_overtemperature", "abnormal_current",
    "balance_wire_disconnected", "board_overtemperature", "reserved", "open_failed",
    "discharge_mosfet_abnormal", "waiting", "manually_off", "cell_overvoltage_level2",
    "undertemperature_protection", "cell_imbalance", "reserved", "self_test_error",
)  # fmt: skip
DISCHARGE_MOS = (
    "off", "on", "overdischarge_protection", "overcurrent_protection", "overcurrent_level2",
    "pack_undervoltage", "battery_overtemperature", "mosfet_overtemperature", "abnormal_current",
    "balance_wire_disconnected", "board_overtemperature", "charge_mosfet_on",
    "short_circuit_protection", "discharge_mosfet_abnormal", "open_failed", "manually_off",
    "cell_undervoltage_level2", "undertemperature_protection", "cell_imbalance",
    "self_test_error",
)  # fmt: skip
BALANCER = {0: "off", 1: "limit_exceeded", 2: "charge_differential", 3: "overtemperature",
            4: "automatic", 10: "board_overtemperature"}  # fmt: skip

# MOSFET reason code -> alarm it stands for.
CHARGE_ALARMS = {
    2: "cell_overvoltage", 16: "cell_overvoltage", 3: "charge_overcurrent",
    5: "pack_overvoltage", 6: "charge_overtemperature", 17: "charge_undertemperature",
    7: "mosfet_overtemperature", 10: "board_overtemperature", 8: "abnormal_current",
    9: "balance_wire_disconnected", 18: "cell_imbalance",
}  # fmt: skip
DISCHARGE_ALARMS = {
    2: "cell_undervoltage", 16: "cell_undervoltage", 3: "discharge_overcurrent",
    4: "discharge_overcurrent", 5: "pack_undervoltage", 6: "discharge_overtemperature",
    17: "discharge_undertemperature", 7: "mosfet_overtemperature", 10: "board_overtemperature",
    8: "abnormal_current", 9: "balance_wire_disconnected", 12: "short_circuit",
    18: "cell_imbalance",
}  # fmt: skip
ALARMS = sorted(set(CHARGE_ALARMS.values()) | set(DISCHARGE_ALARMS.values()))


def crc16_modbus(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def request(function: int, address: int, value: int) -> bytes:
    """A 2021-protocol request, e.g. ``request(0x01, 0x0000, 0xBE)`` for the status."""
    body = bytes((START[1], function)) + address.to_bytes(2, "little") + bytes((value,))
    return START[:1] + body + crc16_modbus(body).to_bytes(2, "little") + END


STATUS_REQUEST = request(0x01, 0x0000, 0xBE)


def frame_length(header: bytes) -> int:
    return LEGACY_LEN if header.startswith(LEGACY_START) else header[5] + 10


def check_frame(frame: bytes) -> None:
    """Raise DecodeError unless ``frame`` is one whole, intact frame of either variant."""
    if frame.startswith(LEGACY_START):
        _check_legacy(frame)
    elif frame.startswith(START):
        _check_2021(frame)
    else:
        raise DecodeError(
            f"not an ANT frame: starts with {frame[:4].hex(' ').upper() or 'nothing'}, "
            "expected 7E A1 or AA 55 AA FF"
        )


def _check_legacy(frame: bytes) -> None:
    if len(frame) != LEGACY_LEN:
        raise DecodeError(f"ANT legacy frame must be {LEGACY_LEN} bytes, not {len(frame)}")
    check_sum("ANT legacy checksum", int.from_bytes(frame[-2:], "big"),
              sum(frame[4:-2]) & 0xFFFF)


def _check_2021(frame: bytes) -> None:
    if len(frame) < 10:
        raise DecodeError(f"ANT frame too short: {len(frame)} bytes, a frame has at least 10")
    check_length("ANT", frame, frame[5], frame[5] + 10, "data")
    if not frame.endswith(END):
        raise DecodeError(f"ANT frame must end with AA 55, not {frame[-2:].hex(' ').upper()}")
    check_sum("ANT CRC", int.from_bytes(frame[-4:-2], "little"), crc16_modbus(frame[1:-4]))


FRAMING = Framing(
    starts=(START, LEGACY_START),
    header=6,
    length=frame_length,
    check=check_frame,
    max_length=255 + 10,
)


def poll_plan(link: str, options: Options) -> list[Request]:
    """One status request; which one depends on the BMS generation, not on the link."""
    if options.ant_variant == "legacy":
        return [Request(LEGACY_REQUEST, accepts=lambda frame: frame.startswith(LEGACY_START))]
    return [Request(STATUS_REQUEST, accepts=_is_status)]


def _is_status(frame: bytes) -> bool:
    return frame.startswith(START) and frame[2] == STATUS_FUNCTION


def decode(frames: Sequence[bytes], options: Options) -> Reading:
    reading: Reading = {}
    for frame in frames:
        check_frame(frame)
        reading.update(_legacy(frame) if frame.startswith(LEGACY_START) else _status(frame))
    return reading


def _status(frame: bytes) -> Reading:
    if frame[2] != STATUS_FUNCTION:
        raise DecodeError(f"ANT function 0x{frame[2]:02X} is not supported (only status 0x11)")
    sensors, cells = frame[8], frame[9]
    if cells > MAX_CELLS:
        raise DecodeError(f"ANT status frame names {cells} cells, at most {MAX_CELLS} exist")
    expected = STATUS_FIXED + 2 * cells + 2 * sensors
    if frame[5] != expected:
        raise DecodeError(
            f"ANT status frame has {frame[5]} data bytes, {cells} cells and {sensors} "
            f"temperature sensors need {expected}"
        )
    protection, warnings = struct.unpack_from("<QQ", frame, 10)
    millivolts = struct.unpack_from(f"<{cells}H", frame, 34)
    temps = struct.unpack_from(f"<{sensors}h", frame, 34 + 2 * cells)
    at = 34 + 2 * cells + 2 * sensors
    mosfet_t, balancer_t, centivolts, deciamps, soc, soh = struct.unpack_from("<hhHhHH", frame, at)
    charge, discharge, balancer = frame[at + 12 : at + 15]
    nominal, remaining, cycle_capacity, power, runtime, balanced = struct.unpack_from(
        "<IIIiII", frame, at + 16
    )
    high, high_no, low, low_no, delta, average = struct.unpack_from("<6H", frame, at + 40)
    out_ah, in_ah, out_s, in_s = struct.unpack_from("<4I", frame, at + 62)
    reading: Reading = {
        "state": STATES[frame[7]] if frame[7] < len(STATES) else "unknown",
        "voltage": centivolts / 100,
        "current": deciamps / 10,
        "power": power,
        "soc": soc,
        "soh": soh,
        "capacity_remaining": remaining / 1_000_000,
        "capacity_nominal": nominal / 1_000_000,
        "cycle_capacity": cycle_capacity / 1000,
        "cell_count": cells,
        "temperature_count": sensors,
        "temperature_mosfet": mosfet_t,
        "temperature_balancer": balancer_t,
        "protection_bits": protection,
        "warning_bits": warnings,
        "balancing_bits": balanced,
        "runtime_s": runtime,
        "discharge_capacity_total": out_ah / 1000,
        "charge_capacity_total": in_ah / 1000,
        "discharge_time_s": out_s,
        "charge_time_s": in_s,
        "cell_max": high / 1000,
        "cell_max_index": high_no,
        "cell_min": low / 1000,
        "cell_min_index": low_no,
        "cell_delta": delta / 1000,
        "cell_avg": average / 1000,
    }
    _add_mos(reading, charge, discharge, balancer)
    add_cells(reading, dict(enumerate(millivolts, start=1)))
    add_temperatures(reading, list(temps))
    return reading


def _legacy(frame: bytes) -> Reading:
    cells = frame[123]
    if cells > MAX_CELLS:
        raise DecodeError(f"ANT legacy frame names {cells} cells, at most {MAX_CELLS} exist")
    (decivolts,) = struct.unpack_from(">H", frame, 4)
    millivolts = struct.unpack_from(f">{cells}H", frame, 6)
    deciamps, soc, nominal, remaining, cycle_capacity, runtime = struct.unpack_from(
        ">iBIIII", frame, 70
    )
    temps = struct.unpack_from(">6h", frame, 91)
    charge, discharge, balancer = frame[103:106]
    power, high_no, high, low_no, low, average = struct.unpack_from(">iBHBHH", frame, 111)
    (balanced,) = struct.unpack_from(">I", frame, 132)
    reading: Reading = {
        "voltage": decivolts / 10,
        "current": deciamps / 10,
        "power": power,
        "soc": soc,
        "capacity_remaining": remaining / 1_000_000,
        "capacity_nominal": nominal / 1_000_000,
        "cycle_capacity": cycle_capacity / 1000,
        "cell_count": cells,
        "runtime_s": runtime,
        "balancing_bits": balanced,
        "cell_max": high / 1000,
        "cell_max_index": high_no,
        "cell_min": low / 1000,
        "cell_min_index": low_no,
        "cell_delta": (high - low) / 1000,
        "cell_avg": average / 1000,
    }
    _add_mos(reading, charge, discharge, balancer)
    add_cells(reading, dict(enumerate(millivolts, start=1)))
    add_temperatures(reading, list(temps))
    return reading


def _add_mos(reading: Reading, charge: int, discharge: int, balancer: int) -> None:
    """MOSFET states, their reason codes as names, and the alarms those codes stand for."""
    reading["charge_mos"] = charge == 1
    reading["discharge_mos"] = discharge == 1
    reading["charge_mos_status"] = CHARGE_MOS[charge] if charge < len(CHARGE_MOS) else "unknown"
    reading["discharge_mos_status"] = (
        DISCHARGE_MOS[discharge] if discharge < len(DISCHARGE_MOS) else "unknown"
    )
    reading["balancer_status"] = BALANCER.get(balancer, "unknown")
    reading["balancing"] = balancer != 0
    fired = {CHARGE_ALARMS.get(charge), DISCHARGE_ALARMS.get(discharge)}
    for name in ALARMS:
        reading[f"alarms.{name}"] = name in fired
