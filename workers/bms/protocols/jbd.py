"""JBD / Xiaoxiang BMS, identical on UART and BLE.

Request ``DD A5 <cmd> 00 <chk16> 77``; response ``DD <cmd> <status> <len> <payload> <chk16> 77``
with the checksum ``0x10000 - sum(status, len, payload)``, big-endian. Commands decoded:
0x03 basic info, 0x04 cell voltages, 0x05 model string, 0xAA protection event counters.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

from ..errors import DecodeError
from ..model import Reading, add_alarms, add_cells, add_temperatures
from . import Framing, Options, Request, check_length, check_sum

START, END, READ, WRITE = 0xDD, 0x77, 0xA5, 0x5A
BASIC, CELLS, MODEL, ERROR_COUNTS = 0x03, 0x04, 0x05, 0xAA
MAX_CELLS = 32
KELVIN_OFFSET = 2731  # 0.1 K

PROTECTION = (
    "cell_overvoltage",
    "cell_undervoltage",
    "pack_overvoltage",
    "pack_undervoltage",
    "charge_overtemperature",
    "charge_undertemperature",
    "discharge_overtemperature",
    "discharge_undertemperature",
    "charge_overcurrent",
    "discharge_overcurrent",
    "short_circuit",
    "frontend_ic_error",
    "mosfet_software_lock",
)
ERROR_COUNTERS = (
    "short_circuit",
    "charge_overcurrent",
    "discharge_overcurrent",
    "cell_overvoltage",
    "cell_undervoltage",
    "charge_overtemperature",
    "charge_undertemperature",
    "discharge_overtemperature",
    "discharge_undertemperature",
    "pack_overvoltage",
    "pack_undervoltage",
)


def checksum(body: bytes) -> int:
    """JBD checksum over status/length/payload (or command/length for a request)."""
    return (0x10000 - sum(body)) & 0xFFFF


def request(command: int) -> bytes:
    """The read request for one command."""
    body = bytes((command, 0))
    return bytes((START, READ)) + body + checksum(body).to_bytes(2, "big") + bytes((END,))


def check_frame(frame: bytes) -> None:
    """Raise DecodeError unless ``frame`` is one whole, intact JBD frame."""
    if len(frame) < 7:
        raise DecodeError(f"JBD frame too short: {len(frame)} bytes, a frame has at least 7")
    if frame[0] != START:
        raise DecodeError(f"JBD frame must start with 0xDD, not 0x{frame[0]:02X}")
    check_length("JBD", frame, frame[3], frame[3] + 7, "payload")
    if frame[-1] != END:
        raise DecodeError(f"JBD frame must end with 0x77, not 0x{frame[-1]:02X}")
    check_sum("JBD checksum", int.from_bytes(frame[-3:-1], "big"), checksum(frame[2:-3]))


FRAMING = Framing(
    starts=(bytes((START,)),),
    header=4,
    length=lambda header: header[3] + 7,
    check=check_frame,
    max_length=255 + 7,
)


def poll_plan(link: str, options: Options) -> list[Request]:
    """Basic info then cell voltages: the same two requests over UART and BLE."""
    return [Request(request(cmd), accepts=_answers(cmd)) for cmd in (BASIC, CELLS)]


def _answers(command: int) -> Callable[[bytes], bool]:
    return lambda frame: frame[1] == command


def decode(frames: Sequence[bytes], options: Options) -> Reading:
    reading: Reading = {}
    for frame in frames:
        reading.update(decode_frame(frame))
    return reading


def decode_frame(frame: bytes) -> Reading:
    check_frame(frame)
    command, status, payload = frame[1], frame[2], frame[4:-3]
    if command in (READ, WRITE):
        raise DecodeError("this is a JBD request (host to BMS), not an answer")
    if status != 0:
        raise DecodeError(
            f"JBD BMS answered command 0x{command:02X} with error status 0x{status:02X}"
        )
    decoder = _DECODERS.get(command)
    if decoder is None:
        raise DecodeError(f"JBD command 0x{command:02X} is not supported")
    return decoder(payload)


def _basic(payload: bytes) -> Reading:
    if len(payload) < 23:
        raise DecodeError(f"JBD basic info payload too short: {len(payload)} bytes, need 23")
    sensors = payload[22]
    if len(payload) < 23 + 2 * sensors:
        raise DecodeError(
            f"JBD basic info names {sensors} NTC sensors but the payload ends after "
            f"{(len(payload) - 23) // 2}"
        )
    volts, amps, remaining, nominal, cycles, date, bal_low, bal_high, protection = (
        struct.unpack_from(">HhHHHHHHH", payload)
    )
    version, soc, fets, cell_count = payload[18:22]
    reading: Reading = {
        "voltage": volts / 100,
        "current": amps / 100,
        "power": volts * amps / 10000,
        "soc": soc,
        "capacity_remaining": remaining / 100,
        "capacity_nominal": nominal / 100,
        "cycles": cycles,
        "charge_mos": bool(fets & 1),
        "discharge_mos": bool(fets & 2),
        "cell_count": cell_count,
        "software_version": f"{version >> 4}.{version & 0x0F}",
        "protection_bits": protection,
        "balancing_bits": bal_low | bal_high << 16,
        "balancing": bool(bal_low or bal_high),
    }
    year, month, day = 2000 + (date >> 9), date >> 5 & 0x0F, date & 0x1F
    if 1 <= month <= 12 and 1 <= day <= 31:
        reading["production_date"] = f"{year:04d}-{month:02d}-{day:02d}"
    raw_temps = struct.unpack_from(f">{sensors}H", payload, 23)
    add_temperatures(reading, [(raw - KELVIN_OFFSET) / 10 for raw in raw_temps])
    add_alarms(reading, protection, PROTECTION)
    return reading


def _cells(payload: bytes) -> Reading:
    if len(payload) % 2:
        raise DecodeError(f"JBD cell payload has an odd length ({len(payload)} bytes)")
    count = len(payload) // 2
    if count > MAX_CELLS:
        raise DecodeError(f"JBD cell payload holds {count} cells, at most {MAX_CELLS} exist")
    reading: Reading = {}
    add_cells(reading, dict(enumerate(struct.unpack(f">{count}H", payload), start=1)))
    return reading


def _model(payload: bytes) -> Reading:
    return {"model": payload.decode("ascii", errors="replace").strip("\x00 ")}


def _error_counts(payload: bytes) -> Reading:
    if len(payload) < 2 * len(ERROR_COUNTERS):
        raise DecodeError(f"JBD error counter payload too short: {len(payload)} bytes, need 22")
    counts = struct.unpack_from(f">{len(ERROR_COUNTERS)}H", payload)
    return {f"protection_count.{name}": n for name, n in zip(ERROR_COUNTERS, counts, strict=True)}


_DECODERS = {BASIC: _basic, CELLS: _cells, MODEL: _model, ERROR_COUNTS: _error_counts}
