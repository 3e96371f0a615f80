"""RSP_UD telegram decoding: frame checks, data header, then fixed or variable data."""

from __future__ import annotations

from typing import Any

from edgeos.workers.mbus.decoder import tables, values
from edgeos.workers.mbus.decoder.frame import (
    CI_RSP_FIXED,
    CI_RSP_VARIABLE,
    DecodeError,
    parse_long_frame,
)
from edgeos.workers.mbus.decoder.records import parse_records

VARIABLE_HEADER_SIZE = 12  # ID(4) manufacturer(2) version medium access status signature(2)
FIXED_DATA_SIZE = 16  # ID(4) access status units(2) counter1(4) counter2(4)


def decode(frame: bytes) -> dict[str, Any]:
    """Decode a wired M-Bus long frame into header fields and SI-scaled records.

    Raises DecodeError (and nothing else) for anything that is not a valid frame.
    """
    if not isinstance(frame, bytes | bytearray | memoryview):
        raise DecodeError(f"expected bytes, got {type(frame).__name__}")
    parsed = parse_long_frame(bytes(frame))
    if parsed.ci == CI_RSP_VARIABLE:
        body = _variable(parsed.data)
    elif parsed.ci == CI_RSP_FIXED:
        body = _fixed(parsed.data)
    else:
        raise DecodeError(f"unsupported CI field {parsed.ci:02X} (decodable: 72 variable, "
                          "73 fixed data structure)")
    return {"address": parsed.address, **body}


def meter_id(id_bcd: bytes) -> str:
    """The identification number as printed on the meter (BCD digits, leading zeros dropped)."""
    return f"{int.from_bytes(id_bcd, 'little'):X}".lstrip("0") or "0"


def manufacturer_code(raw: int) -> str:
    """Three-letter FLAG code packed into 15 bits (EN 13757-3 5.6)."""
    return "".join(chr(((raw >> shift) & 0x1F) + 64) for shift in (10, 5, 0))


def _variable(data: bytes) -> dict[str, Any]:
    if len(data) < VARIABLE_HEADER_SIZE:
        raise DecodeError(f"truncated header: variable data needs {VARIABLE_HEADER_SIZE} bytes, "
                          f"got {len(data)}")
    header = data[:VARIABLE_HEADER_SIZE]
    manufacturer = int.from_bytes(header[4:6], "little")
    return {
        "id": meter_id(header[0:4]),
        "manufacturer": manufacturer_code(manufacturer),
        "version": header[6],
        "medium": tables.medium_name(header[7]),
        "access_number": header[8],
        "status": header[9],
        "signature": int.from_bytes(header[10:12], "little"),
        # libmbus notation (id digits, then manufacturer, version, medium bytes as sent),
        # accepted by Master.select_secondary.
        "secondary_address": f"{int.from_bytes(header[0:4], 'little'):08X}{header[4:8].hex()}"
                             .upper(),
        "records": parse_records(data[VARIABLE_HEADER_SIZE:]),
    }


def _fixed(data: bytes) -> dict[str, Any]:
    """Fixed data structure (CI 0x73): two counters, reported the way libmbus reports them.

    libmbus, the shared reference, leaves these counters raw and names their unit with
    its decade prefix (e.g. "10 l"), so they are not SI-normalised like variable records.
    """
    if len(data) != FIXED_DATA_SIZE:
        raise DecodeError(f"fixed data structure must be {FIXED_DATA_SIZE} bytes, got {len(data)}")
    status, unit1, unit2 = data[5], data[6], data[7]
    stored = bool(status & 0x40)
    binary = bool(status & 0x80)
    medium = ((unit1 & 0xC0) >> 6) | ((unit2 & 0xC0) >> 4)
    records = []
    for unit_code, counter in ((unit1, data[8:12]), (unit2, data[12:16])):
        unit, quantity = tables.FIXED_UNITS[unit_code & 0x3F]
        raw = values.signed_int(counter) if binary else values.bcd(counter)
        records.append({
            "value": float(raw), "unit": unit, "quantity": quantity,
            "function": "Stored value" if stored else "Actual value",
            "storage": int(stored), "tariff": 0, "subunit": 0,
        })
    return {
        "id": meter_id(data[0:4]),
        "manufacturer": None,
        "version": None,
        "medium": tables.FIXED_MEDIA[medium],
        "access_number": data[4],
        "status": status,
        "records": records,
    }
