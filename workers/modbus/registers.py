"""Modbus data types: 16-bit registers to Python values and back, in any word/byte order.

A register travels big-endian on the wire, but devices disagree on how a wider value
spans several registers: ``word_order`` says which register comes first (``big``: the
most significant one, "ABCD"; ``little``: the least significant, "CDAB"), and
``byte_order`` whether the two bytes inside each register are swapped (``little``:
"BADC", both little: "DCBA"). Strings keep their register order and honour only
``byte_order``, so a device-wide ``word_order`` for its floats cannot scramble them.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

FORMATS = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "int64": "q",
           "uint64": "Q", "float32": "f", "float64": "d"}
FLOATS = frozenset({"float32", "float64"})
ORDERS = ("big", "little")


def width(type_: str, count: int | None = None) -> int:
    """How many registers a value of ``type_`` spans (``count`` for strings)."""
    if type_ == "string":
        if not count:
            raise ValueError("a string needs its length in registers ('count')")
        return count
    return struct.calcsize(FORMATS[type_]) // 2


def _wire_bytes(registers: Sequence[int], type_: str, word_order: str,
                byte_order: str) -> bytes:
    regs = list(registers)
    if word_order == "little" and type_ != "string":
        regs.reverse()
    data = b"".join(r.to_bytes(2, "big") for r in regs)
    if byte_order == "little":
        data = bytes(b for i in range(0, len(data), 2) for b in (data[i + 1], data[i]))
    return data


def _registers(data: bytes, type_: str, word_order: str, byte_order: str) -> list[int]:
    if byte_order == "little":
        data = bytes(b for i in range(0, len(data), 2) for b in (data[i + 1], data[i]))
    regs = [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]
    if word_order == "little" and type_ != "string":
        regs.reverse()
    return regs


def decode(registers: Sequence[int], type_: str, *, word_order: str = "big",
           byte_order: str = "big") -> int | float | str:
    """The value that ``registers`` (as read from the device) hold."""
    data = _wire_bytes(registers, type_, word_order, byte_order)
    if type_ == "string":
        return data.decode("utf-8", "replace").split("\x00", 1)[0].rstrip()
    if len(data) != struct.calcsize(FORMATS[type_]):
        raise ValueError(f"{type_} needs {width(type_)} registers, got {len(registers)}")
    return struct.unpack(">" + FORMATS[type_], data)[0]


def encode(value: int | float | str, type_: str, *, word_order: str = "big",
           byte_order: str = "big", count: int | None = None) -> list[int]:
    """The registers to write so the device holds ``value``; ValueError if it cannot."""
    if type_ == "string":
        data = str(value).encode("utf-8")
        size = 2 * width(type_, count)
        if len(data) > size:
            raise ValueError(f"string of {len(data)} bytes does not fit {size // 2} registers")
        return _registers(data.ljust(size, b"\x00"), type_, word_order, byte_order)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number for {type_}")
    if type_ not in FLOATS:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{value!r} is not an integer for {type_}")
        value = int(value)
    try:
        data = struct.pack(">" + FORMATS[type_], value)
    except (struct.error, OverflowError, TypeError) as exc:
        raise ValueError(f"{value!r} does not fit {type_}: {exc}") from None
    return _registers(data, type_, word_order, byte_order)
