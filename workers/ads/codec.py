"""Conversion between PLC bytes and Python values, driven by the PLC's own type names.

TwinCAT reports every symbol with an IEC 61131-3 type name (``REAL``, ``STRING(80)``,
``E_Mode``...) and an ADS type id; writes must be encoded in exactly that type, so a
command's value is checked against the type's range rather than truncated.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from typing import Any

from edgeos.workers.coerce import to_bool

# ADS data type ids (TcAdsDef.h)
ADST_INT16, ADST_INT32, ADST_REAL32, ADST_REAL64 = 2, 3, 4, 5
ADST_INT8, ADST_UINT8, ADST_UINT16, ADST_UINT32, ADST_INT64, ADST_UINT64 = 16, 17, 18, 19, 20, 21
ADST_STRING, ADST_WSTRING, ADST_BIT, ADST_BIGTYPE = 30, 31, 33, 65

_NAMED: dict[str, tuple[str, str | None]] = {  # type name -> (struct format, unit)
    "BOOL": ("?", None), "BIT": ("?", None),
    "SINT": ("b", None), "USINT": ("B", None), "BYTE": ("B", None),
    "INT": ("h", None), "UINT": ("H", None), "WORD": ("H", None),
    "DINT": ("i", None), "UDINT": ("I", None), "DWORD": ("I", None),
    "LINT": ("q", None), "ULINT": ("Q", None), "LWORD": ("Q", None),
    "REAL": ("f", None), "LREAL": ("d", None),
    "TIME": ("I", "ms"), "TIME_OF_DAY": ("I", "ms"), "TOD": ("I", "ms"), "LTIME": ("Q", "ns"),
    "DATE": ("I", "s"), "DATE_AND_TIME": ("I", "s"), "DT": ("I", "s"),
}
_BY_ADST: dict[int, str] = {
    ADST_BIT: "?", ADST_INT8: "b", ADST_UINT8: "B", ADST_INT16: "h", ADST_UINT16: "H",
    ADST_INT32: "i", ADST_UINT32: "I", ADST_INT64: "q", ADST_UINT64: "Q",
    ADST_REAL32: "f", ADST_REAL64: "d",
}
_STRING = re.compile(r"^(W?STRING)\s*(?:\(\s*(\d+)\s*\)|\[\s*(\d+)\s*\])?$", re.IGNORECASE)


@dataclass(frozen=True)
class Codec:
    """How one PLC scalar is laid out: ``fmt`` is a struct format, ``str`` or ``wstr``."""

    fmt: str
    size: int
    unit: str | None = None

    def __post_init__(self) -> None:
        # decoding runs once per notification: keep the compiled struct at hand
        numeric = self.fmt not in ("str", "wstr", "?")
        object.__setattr__(self, "_unpack",
                           struct.Struct("<" + self.fmt).unpack_from if numeric else None)

    def decode(self, raw: bytes) -> Any:
        if self._unpack is not None:  # type: ignore[attr-defined]
            value = self._unpack(raw)[0]  # type: ignore[attr-defined]
            return _short_float32(value) if self.fmt == "f" else value
        if self.fmt == "?":
            return raw[0] != 0
        if self.fmt == "str":
            return raw.split(b"\0", 1)[0].decode("cp1252", "replace")
        return raw.decode("utf-16-le", "replace").split("\0", 1)[0]

    def encode(self, value: Any) -> bytes:
        """The bytes to write for ``value``; ValueError when it does not fit the type."""
        if self.fmt in ("str", "wstr"):
            return self._encode_text(value)
        if self.fmt == "?":
            return b"\x01" if to_bool(value, "BOOL") else b"\x00"
        number = _to_number(value, integer=self.fmt not in "fd")
        try:
            return struct.pack("<" + self.fmt, number)
        except (struct.error, OverflowError):
            raise ValueError(f"{value!r} is out of range for this type") from None

    def _encode_text(self, value: Any) -> bytes:
        if not isinstance(value, str):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{value!r} is not text")
            value = str(value)
        try:
            data = value.encode("cp1252" if self.fmt == "str" else "utf-16-le")
        except UnicodeEncodeError:
            raise ValueError(f"{value!r} has characters a PLC STRING cannot hold") from None
        room = self.size - (1 if self.fmt == "str" else 2)
        if len(data) > room:
            raise ValueError(f"{value!r} is longer than the PLC string ({room} bytes)")
        return data.ljust(self.size, b"\0")


def _short_float32(value: float) -> float:
    """The shortest decimal that is the same REAL: 21.3, not 21.299999237060547."""
    if not math.isfinite(value):
        return value
    raw = struct.pack("<f", value)
    for digits in range(6, 10):
        short = float(f"{value:.{digits}g}")
        if struct.pack("<f", short) == raw:
            return short
    return value


def _to_number(value: Any, *, integer: bool) -> int | float:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text, 0) if integer else float(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a number") from None
    if not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    if integer:
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"{value!r} is not a whole number")
            value = int(value)
        return value
    return float(value)


def codec_for(type_name: str, ads_type: int, size: int) -> Codec | None:
    """The codec of a scalar PLC type, or None for structs, arrays and unknown types.

    Known IEC names come first; an alias or enum the type table does not resolve is
    decoded by its ADS type id when the size agrees.
    """
    name = type_name.strip().upper()
    if name in _NAMED:
        fmt, unit = _NAMED[name]
        return Codec(fmt, struct.calcsize("<" + fmt), unit) if _fits(fmt, size) else None
    match = _STRING.match(name)
    if match:
        wide = match.group(1) == "WSTRING"
        chars = int(match.group(2) or match.group(3) or 80)
        return Codec("wstr" if wide else "str", size or (chars + 1) * (2 if wide else 1))
    if name.startswith(("ARRAY", "POINTER", "REFERENCE")):
        return None
    if ads_type in (ADST_STRING, ADST_WSTRING) and size:
        return Codec("str" if ads_type == ADST_STRING else "wstr", size)
    fmt = _BY_ADST.get(ads_type)
    if fmt is not None and _fits(fmt, size):
        return Codec(fmt, struct.calcsize("<" + fmt))
    return None


def _fits(fmt: str, size: int) -> bool:
    return size in (0, struct.calcsize("<" + fmt))
