"""Data field codings of EN 13757-3 annex A: integers, BCD, real, dates, raw bytes."""

from __future__ import annotations

import struct


def signed_int(data: bytes) -> int:
    """Type B: little-endian two's complement integer."""
    return int.from_bytes(data, "little", signed=True)


def bcd(data: bytes) -> int:
    """Type A: little-endian BCD; an F in the top nibble marks a negative number.

    Non-decimal nibbles are handled as libmbus does (the reference decoder the
    shared test data comes from): a high nibble of A-F counts as 0, a low one
    keeps its value. Meters use such patterns (e.g. DD B4 EB) for error states.
    """
    value = 0
    for byte in reversed(data):
        high, low = byte >> 4, byte & 0x0F
        value = value * 10 + (high if high < 0xA else 0)
        value = value * 10 + low
    if data and data[-1] >> 4 == 0xF:
        value = -value
    return value


def real32(data: bytes) -> float:
    """Type H: IEEE 754 single precision, little-endian."""
    return float(struct.unpack("<f", data)[0])


def hex_bytes(data: bytes) -> str:
    """Raw bytes as libmbus prints them: upper-case hex pairs separated by spaces."""
    return " ".join(f"{b:02X}" for b in data)


def _year(two_digit: int, hundreds: int = 0) -> int:
    # EN 13757-3:2018 table A.5 note: without a hundred-year field, years 00-80 mean 2000-2080.
    if hundreds == 0 and two_digit <= 80:
        hundreds = 1
    return 1900 + 100 * hundreds + two_digit


def date_g(data: bytes) -> str:
    """Type G (CP16) date as YYYY-MM-DD; an all-zero date prints as 2000-00-00 like libmbus."""
    day = data[0] & 0x1F
    month = data[1] & 0x0F
    year = _year(((data[0] & 0xE0) >> 5) | ((data[1] & 0xF0) >> 1))
    return f"{year:04d}-{month:02d}-{day:02d}"


def _minutes(data: bytes, hundreds: int) -> str:
    """The four CP32 bytes (minute, hour, day, month with the year's bits) as
    YYYY-MM-DDTHH:MM; types F and I share them."""
    year = _year(((data[2] & 0xE0) >> 5) | ((data[3] & 0xF0) >> 1), hundreds)
    return (f"{year:04d}-{data[3] & 0x0F:02d}-{data[2] & 0x1F:02d}T"
            f"{data[1] & 0x1F:02d}:{data[0] & 0x3F:02d}")


def datetime_f(data: bytes) -> str | None:
    """Type F (CP32) date and time as YYYY-MM-DDTHH:MM:00Z; None if flagged invalid."""
    if data[0] & 0x80:
        return None
    return f"{_minutes(data, (data[1] & 0x60) >> 5)}:00Z"


def datetime_i(data: bytes) -> str | None:
    """Type I (CP48) date and time with seconds; None if flagged invalid."""
    if data[1] & 0x80:
        return None
    return f"{_minutes(data[1:], 0)}:{data[0] & 0x3F:02d}Z"


def scale(raw: float, factor: float, exp10: int) -> float:
    """raw * factor * 10**exp10, dividing for negative exponents so 742e-4 prints as 0.0742."""
    value = raw * factor
    return float(value * 10**exp10 if exp10 >= 0 else value / 10**-exp10)
