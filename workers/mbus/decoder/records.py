"""Variable data records (EN 13757-3 clause 6): DIB, VIB and data field of each record."""

from __future__ import annotations

import math
from typing import Any

from edgeos.workers.mbus.decoder import tables, values
from edgeos.workers.mbus.decoder.frame import DecodeError

FUNCTIONS = ("Instantaneous value", "Maximum value", "Minimum value", "Value during error state")
MAX_EXTENSIONS = 10  # DIFEs or VIFEs per record; EN 13757-3 allows at most 10 each
DIF_IDLE_FILLER = 0x2F
DIF_MANUFACTURER_SPECIFIC = 0x0F
DIF_MORE_RECORDS_FOLLOW = 0x1F
VIF_PLAIN_TEXT = 0x7C
VIF_EXT_FB = 0xFB
VIF_EXT_FD = 0xFD
VIFE_MANUFACTURER = 0x7F
TIME_POINT_VIFS = {0x6C, 0x6D}  # primary table: date, date & time
TIME_POINT_FD_VIFES = {0x30, 0x70}  # start of tariff, date and time of battery change

# Fixed data field lengths by the low DIF nibble (0x0D and 0x0F are handled apart).
_DATA_LENGTHS = {0x0: 0, 0x1: 1, 0x2: 2, 0x3: 3, 0x4: 4, 0x5: 4, 0x6: 6, 0x7: 8, 0x8: 0,
                 0x9: 1, 0xA: 2, 0xB: 3, 0xC: 4, 0xE: 6}
_BCD_CODINGS = {0x9, 0xA, 0xB, 0xC, 0xE}


class _Reader:
    """Bounds-checked cursor over the record area, so truncation becomes a DecodeError."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)

    def byte(self, what: str) -> int:
        return self.take(1, what)[0]

    def take(self, count: int, what: str) -> bytes:
        if self.pos + count > len(self.data):
            raise DecodeError(
                f"truncated record: {what} needs {count} byte(s) at offset {self.pos}, "
                f"{len(self.data) - self.pos} left"
            )
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def rest(self) -> bytes:
        chunk = self.data[self.pos:]
        self.pos = len(self.data)
        return chunk


def parse_records(data: bytes) -> list[dict[str, Any]]:
    """Decode every data record of a variable data structure (after the 12-byte header)."""
    reader = _Reader(data)
    records: list[dict[str, Any]] = []
    while not reader.done:
        start = reader.pos
        dif = reader.byte("DIF")
        if dif == DIF_IDLE_FILLER:
            continue
        if dif in (DIF_MANUFACTURER_SPECIFIC, DIF_MORE_RECORDS_FOLLOW):
            records.append(_trailer(dif, reader.rest()))
            break
        if dif & 0x0F == 0x0F:
            raise DecodeError(f"reserved special-function DIF {dif:02X} at offset {start}")
        records.append(_record(dif, reader))
    return records


def _trailer(dif: int, payload: bytes) -> dict[str, Any]:
    """Manufacturer-specific data up to the end of the telegram, shown as hex like libmbus."""
    function = "More records follow" if dif == DIF_MORE_RECORDS_FOLLOW else "Manufacturer specific"
    return {"value": values.hex_bytes(payload), "unit": "", "quantity": "", "function": function,
            "storage": 0, "tariff": 0, "subunit": 0}


def _extensions(reader: _Reader, first: int, what: str) -> list[int]:
    """Read the chain of extension bytes that follows `first` while bit 7 is set."""
    chain: list[int] = []
    more = first & 0x80
    while more:
        if len(chain) == MAX_EXTENSIONS:
            raise DecodeError(f"more than {MAX_EXTENSIONS} {what}s in one record")
        chain.append(reader.byte(what))
        more = chain[-1] & 0x80
    return chain


def _record(dif: int, reader: _Reader) -> dict[str, Any]:
    storage, tariff, subunit = (dif >> 6) & 1, 0, 0
    for n, dife in enumerate(_extensions(reader, dif, "DIFE")):
        storage |= (dife & 0x0F) << (1 + 4 * n)
        tariff |= ((dife >> 4) & 0x03) << (2 * n)
        subunit |= ((dife >> 6) & 0x01) << n

    vif = reader.byte("VIF")
    text = None
    if vif & 0x7F == VIF_PLAIN_TEXT:
        length = reader.byte("plain-text VIF length")
        text = reader.take(length, "plain-text VIF")[::-1].decode("latin-1")
    vifes = _extensions(reader, vif, "VIFE")
    unit, orthogonal = _unit(vif, vifes, text)

    raw = _raw_value(dif & 0x0F, reader, vif, vifes)
    value: float | str | None
    if isinstance(raw, int | float):
        value = _correct(values.scale(raw, unit.factor, unit.exp10), orthogonal)
        if not math.isfinite(value):
            value = None  # NaN/inf reals carry no reading, and JSON cannot hold them
    else:
        value = raw
    return {"value": value, "unit": unit.unit, "quantity": unit.quantity,
            "function": FUNCTIONS[(dif >> 4) & 0x03],
            "storage": storage, "tariff": tariff, "subunit": subunit}


def _unit(vif: int, vifes: list[int], text: str | None) -> tuple[tables.Unit, list[int]]:
    """Unit of the record and the VIFEs that may still carry correction factors."""
    if text is not None:
        return tables.Unit("-", text), vifes
    if vif == VIF_EXT_FD:
        return tables.lookup(tables.EXTENSION_FD, vifes[0]), vifes[1:]
    if vif == VIF_EXT_FB:
        return tables.lookup(tables.EXTENSION_FB, vifes[0]), vifes[1:]
    unit = tables.lookup(tables.PRIMARY, vif)
    if vif & 0x7F == VIFE_MANUFACTURER:
        return unit, []  # every VIFE after a manufacturer-specific VIF is the maker's own
    return unit, vifes


def _correct(value: float, vifes: list[int]) -> float:
    """Apply the combinable VIFE corrections (EN 13757-3 table 15) up to a maker-specific VIFE."""
    for vife in vifes:
        code = vife & 0x7F
        if code == VIFE_MANUFACTURER:
            break
        if 0x70 <= code <= 0x77:
            value = values.scale(value, 1, (code & 0x07) - 6)
        elif 0x78 <= code <= 0x7B:
            value += values.scale(1, 1, (code & 0x03) - 3)
        elif code == 0x7D:
            value *= 1000
    return value


def _is_time_point(vif: int, vifes: list[int]) -> bool:
    if vif == VIF_EXT_FD:
        return vifes[0] & 0x7F in TIME_POINT_FD_VIFES
    return vif & 0x7F in TIME_POINT_VIFS


def _raw_value(coding: int, reader: _Reader, vif: int, vifes: list[int]) -> float | str | None:
    """The unscaled number, or the final string for dates, text and binary data."""
    if coding == 0x0D:
        return _lvar(reader)
    data = reader.take(_DATA_LENGTHS[coding], "data field")
    if coding in (0x0, 0x8):
        return None  # no data / selection for readout
    if coding in _BCD_CODINGS:
        return values.bcd(data)
    if coding == 0x5:
        return values.real32(data)
    if len(data) in (2, 4, 6) and _is_time_point(vif, vifes):
        return {2: values.date_g, 4: values.datetime_f, 6: values.datetime_i}[len(data)](data)
    return values.signed_int(data)


def _lvar(reader: _Reader) -> float | str:
    """Variable-length data (EN 13757-3 table 5): text, BCD or binary by the LVAR byte."""
    lvar = reader.byte("LVAR")
    if lvar <= 0xBF:
        return reader.take(lvar, "text data")[::-1].decode("latin-1")
    if 0xC0 <= lvar <= 0xC9:
        return values.bcd(reader.take(lvar - 0xC0, "BCD data"))
    if 0xD0 <= lvar <= 0xD9:
        return -values.bcd(reader.take(lvar - 0xD0, "BCD data"))
    if 0xE0 <= lvar <= 0xEF:
        size = lvar - 0xE0
    elif 0xF0 <= lvar <= 0xF4:
        size = 4 * (lvar - 0xEC)
    elif lvar == 0xF5:
        size = 48
    elif lvar == 0xF6:
        size = 64
    else:
        raise DecodeError(f"reserved LVAR {lvar:02X} at offset {reader.pos - 1}")
    return values.hex_bytes(reader.take(size, "binary data")[::-1])
