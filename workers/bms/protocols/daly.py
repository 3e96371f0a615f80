"""Daly BMS (the A5 protocol of its UART port and of its older BLE module).

Every frame is 13 bytes: ``A5 <address> <cmd> 08 <8 data bytes> <sum & 0xFF>``. The host
sends with address 0x40 on UART and 0x80 over BLE; the BMS answers with 0x01. 0x95 (cell
voltages) and 0x96 (temperatures) answer with several numbered frames.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence

from ..errors import DecodeError
from ..model import Reading, add_alarms, add_cells, add_temperatures
from . import Framing, Options, Request, check_sum

START, DATA_LEN, FRAME_LEN = 0xA5, 8, 13
HOST_ADDRESS = {"serial": 0x40, "ble": 0x80}
CURRENT_OFFSET = 30000  # 0.1 A
TEMP_OFFSET = 40  # °C
MAX_FRAME_NO = 16  # 16 frames x 3 cells = 48 cell slots
STATES = ("stationary", "charging", "discharging")

# 0x98 failure bits, byte 0 bit 0 first; level 1 is a warning, level 2 the alarm proper.
FAILURES = (
    "cell_overvoltage_warning", "cell_overvoltage",
    "cell_undervoltage_warning", "cell_undervoltage",
    "pack_overvoltage_warning", "pack_overvoltage",
    "pack_undervoltage_warning", "pack_undervoltage",
    "charge_overtemperature_warning", "charge_overtemperature",
    "charge_undertemperature_warning", "charge_undertemperature",
    "discharge_overtemperature_warning", "discharge_overtemperature",
    "discharge_undertemperature_warning", "discharge_undertemperature",
    "charge_overcurrent_warning", "charge_overcurrent",
    "discharge_overcurrent_warning", "discharge_overcurrent",
    "soc_high_warning", "soc_high",
    "soc_low_warning", "soc_low",
    "cell_imbalance_warning", "cell_imbalance",
    "temperature_imbalance_warning", "temperature_imbalance",
    None, None, None, None,
    "charge_mos_overtemperature", "discharge_mos_overtemperature",
    "charge_mos_sensor_error", "discharge_mos_sensor_error",
    "charge_mos_adhesion_error", "discharge_mos_adhesion_error",
    "charge_mos_open_circuit_error", "discharge_mos_open_circuit_error",
    "frontend_ic_error", "cell_voltage_collect_error",
    "temperature_sensor_error", "eeprom_error",
    "rtc_error", "precharge_error",
    "communication_error", "internal_communication_error",
    "current_module_error", "pack_voltage_detect_error",
    "short_circuit", "low_voltage_charge_forbidden",
)  # fmt: skip


def checksum(body: bytes) -> int:
    return sum(body) & 0xFF


def request(command: int, link: str = "serial") -> bytes:
    body = bytes((START, HOST_ADDRESS[link], command, DATA_LEN)) + bytes(DATA_LEN)
    return body + bytes((checksum(body),))


def check_frame(frame: bytes) -> None:
    """Raise DecodeError unless ``frame`` is one whole, intact Daly frame."""
    if len(frame) != FRAME_LEN:
        raise DecodeError(f"Daly frame must be {FRAME_LEN} bytes, not {len(frame)}")
    if frame[0] != START:
        raise DecodeError(f"Daly frame must start with 0xA5, not 0x{frame[0]:02X}")
    if frame[3] != DATA_LEN:
        raise DecodeError(f"Daly data length must be 8, not {frame[3]}")
    check_sum("Daly checksum", frame[-1], checksum(frame[:-1]), 2)


FRAMING = Framing(
    starts=(bytes((START,)),),
    header=4,
    length=lambda header: header[3] + 5,
    check=check_frame,
    max_length=FRAME_LEN,
)


def poll_plan(link: str, options: Options) -> list[Request]:
    """Status first: 0x94 tells how many 0x95/0x96 frames the BMS will send."""
    counts = {0x95: _frames_for("cell_count", 3), 0x96: _frames_for("temperature_count", 7)}
    return [
        Request(request(cmd, link), frames=counts.get(cmd, 1), accepts=_answers(cmd))
        for cmd in (0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98)
    ]


def _answers(command: int) -> Callable[[bytes], bool]:
    return lambda frame: frame[2] == command


def _frames_for(count_key: str, per_frame: int) -> Callable[[Reading], int]:
    def frames(reading: Reading) -> int:
        count = int(reading.get(count_key, 0))
        return max(1, min(MAX_FRAME_NO, math.ceil(count / per_frame)))

    return frames


def decode(frames: Sequence[bytes], options: Options) -> Reading:
    """Merge frames; numbered 0x95/0x96 slots are trimmed to the counts 0x94 gives."""
    reading: Reading = {}
    cells: dict[int, int] = {}
    temps: dict[int, int] = {}
    for frame in frames:
        check_frame(frame)
        command, data = frame[2], frame[4:12]
        if command in (0x95, 0x96):
            _collect_slots(command, data, cells if command == 0x95 else temps)
            continue
        decoder = _DECODERS.get(command)
        if decoder is None:
            raise DecodeError(f"Daly command 0x{command:02X} is not supported")
        reading.update(decoder(data, options))
    add_cells(reading, _trim(cells, reading.get("cell_count")))
    kept = _trim(temps, reading.get("temperature_count"))
    add_temperatures(reading, [kept[n] - TEMP_OFFSET for n in sorted(kept)])
    return reading


def _collect_slots(command: int, data: bytes, slots: dict[int, int]) -> None:
    number = data[0]
    if not 1 <= number <= MAX_FRAME_NO:
        raise DecodeError(
            f"Daly 0x{command:02X} frame number {number} is outside 1..{MAX_FRAME_NO}"
        )
    if command == 0x95:
        values, per_frame = struct.unpack_from(">3H", data, 1), 3
    else:
        values, per_frame = tuple(data[1:8]), 7
    first = (number - 1) * per_frame + 1
    slots.update(enumerate(values, start=first))


def _trim(slots: dict[int, int], count: object) -> dict[int, int]:
    """Keep the slots the pack has: ``count`` if known, else up to the last non-zero slot."""
    if isinstance(count, int):
        return {n: v for n, v in slots.items() if n <= count}
    used = [n for n, v in slots.items() if v]
    last = max(used, default=0)
    return {n: v for n, v in slots.items() if n <= last}


def _pack(data: bytes, options: Options) -> Reading:
    decivolts, acquisition, raw_current, soc = struct.unpack_from(">HHHH", data)
    deciamps = (raw_current - CURRENT_OFFSET) * options.daly_current_sign
    return {
        "voltage": decivolts / 10,
        "voltage_acquisition": acquisition / 10,
        "current": deciamps / 10,
        "power": decivolts * deciamps / 100,
        "soc": soc / 10,
    }


def _cell_extremes(data: bytes, options: Options) -> Reading:
    high, high_no, low, low_no = struct.unpack_from(">HBHB", data)
    return {
        "cell_max": high / 1000,
        "cell_max_index": high_no,
        "cell_min": low / 1000,
        "cell_min_index": low_no,
        "cell_delta": (high - low) / 1000,
    }


def _temperature_extremes(data: bytes, options: Options) -> Reading:
    return {
        "temperature_max": data[0] - TEMP_OFFSET,
        "temperature_max_index": data[1],
        "temperature_min": data[2] - TEMP_OFFSET,
        "temperature_min_index": data[3],
    }


def _mos(data: bytes, options: Options) -> Reading:
    state = STATES[data[0]] if data[0] < len(STATES) else "unknown"
    (milliamp_hours,) = struct.unpack_from(">I", data, 4)
    return {
        "state": state,
        "charge_mos": bool(data[1]),
        "discharge_mos": bool(data[2]),
        "bms_life": data[3],
        "capacity_remaining": milliamp_hours / 1000,
    }


def _status(data: bytes, options: Options) -> Reading:
    (cycles,) = struct.unpack_from(">H", data, 5)
    return {
        "cell_count": data[0],
        "temperature_count": data[1],
        "charger_connected": bool(data[2]),
        "load_connected": bool(data[3]),
        "dio_bits": data[4],
        "cycles": cycles,
    }


def _balancing(data: bytes, options: Options) -> Reading:
    bits = int.from_bytes(data[:6], "little")
    return {"balancing_bits": bits, "balancing": bool(bits)}


def _failures(data: bytes, options: Options) -> Reading:
    bits = int.from_bytes(data[:7], "little")
    reading: Reading = {"failure_bits": bits, "fault_code": data[7]}
    add_alarms(reading, bits, FAILURES)
    return reading


_DECODERS = {
    0x90: _pack,
    0x91: _cell_extremes,
    0x92: _temperature_extremes,
    0x93: _mos,
    0x94: _status,
    0x97: _balancing,
    0x98: _failures,
}
