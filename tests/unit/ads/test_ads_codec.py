"""PLC type conversion: what a datapoint value becomes in the PLC's own type, and back."""

from __future__ import annotations

import math
import struct

import pytest
from edgeos.workers.ads.codec import (
    ADST_BIGTYPE,
    ADST_INT16,
    ADST_REAL32,
    ADST_STRING,
    ADST_UINT32,
    codec_for,
)
from hypothesis import given
from hypothesis import strategies as st

INTS = {"SINT": (1, -128, 127), "USINT": (1, 0, 255), "BYTE": (1, 0, 255),
        "INT": (2, -32768, 32767), "UINT": (2, 0, 65535), "WORD": (2, 0, 65535),
        "DINT": (4, -2**31, 2**31 - 1), "UDINT": (4, 0, 2**32 - 1), "DWORD": (4, 0, 2**32 - 1),
        "LINT": (8, -2**63, 2**63 - 1), "ULINT": (8, 0, 2**64 - 1), "TIME": (4, 0, 2**32 - 1)}


@pytest.mark.parametrize("name", sorted(INTS))
def test_integer_types_take_their_whole_range_and_refuse_beyond(name: str) -> None:
    size, lo, hi = INTS[name]
    codec = codec_for(name, 0, size)
    assert codec is not None and codec.size == size
    for value in (lo, hi, (lo + hi) // 2):
        assert codec.decode(codec.encode(value)) == value
    for value in (lo - 1, hi + 1):
        with pytest.raises(ValueError, match="out of range"):
            codec.encode(value)


@given(st.integers(-32768, 32767))
def test_int_round_trips_little_endian(value: int) -> None:
    codec = codec_for("INT", ADST_INT16, 2)
    assert codec is not None
    assert codec.encode(value) == struct.pack("<h", value)
    assert codec.decode(struct.pack("<h", value)) == value


@given(st.floats(width=32, allow_nan=False))
def test_real_decodes_to_a_value_that_is_the_same_real(value: float) -> None:
    codec = codec_for("REAL", ADST_REAL32, 4)
    assert codec is not None
    raw = struct.pack("<f", value)
    decoded = codec.decode(raw)
    assert struct.pack("<f", decoded) == raw
    assert codec.encode(decoded) == raw


def test_real_reads_as_the_short_decimal_that_was_written() -> None:
    codec = codec_for("REAL", ADST_REAL32, 4)
    assert codec is not None
    assert codec.decode(codec.encode(21.3)) == 21.3
    assert codec.decode(codec.encode("48.1")) == 48.1
    assert math.isinf(codec.decode(codec.encode(math.inf)))
    with pytest.raises(ValueError, match="out of range"):
        codec.encode(1e39)
    lreal = codec_for("LREAL", 0, 8)
    assert lreal is not None and lreal.decode(lreal.encode(0.1)) == 0.1


@pytest.mark.parametrize(("value", "raw"), [(True, b"\x01"), (False, b"\x00"), (1, b"\x01"),
                                            ("true", b"\x01"), ("OFF", b"\x00"), ("0", b"\x00")])
def test_bool_accepts_what_routes_and_bridges_send(value: object, raw: bytes) -> None:
    codec = codec_for("BOOL", 33, 1)
    assert codec is not None and codec.encode(value) == raw
    assert codec.decode(raw) is (raw == b"\x01")


@pytest.mark.parametrize("value", [2, "maybe", None, 0.5])
def test_bool_refuses_anything_else(value: object) -> None:
    codec = codec_for("BOOL", 33, 1)
    assert codec is not None
    with pytest.raises(ValueError, match="not a BOOL"):
        codec.encode(value)


@pytest.mark.parametrize(("value", "expected"), [("42", 42), ("0x10", 16), (7.0, 7), (" 3 ", 3),
                                                 ("1e3", 1000), (True, 1)])
def test_integers_accept_numeric_text_and_whole_floats(value: object, expected: int) -> None:
    codec = codec_for("DINT", 0, 4)
    assert codec is not None and codec.decode(codec.encode(value)) == expected


@pytest.mark.parametrize(("value", "match"), [(2.5, "not a whole number"), ("x", "not a number"),
                                               (None, "not a number"), ([1], "not a number")])
def test_integers_refuse_what_they_cannot_hold(value: object, match: str) -> None:
    codec = codec_for("DINT", 0, 4)
    assert codec is not None
    with pytest.raises(ValueError, match=match):
        codec.encode(value)


def test_string_is_padded_null_terminated_and_bounded() -> None:
    codec = codec_for("STRING(5)", ADST_STRING, 6)
    assert codec is not None and codec.size == 6
    assert codec.encode("Grün") == "Grün".encode("cp1252") + b"\0\0"
    assert codec.decode(b"ab\0cd\0") == "ab"
    assert codec.encode("12345") == b"12345\0"
    with pytest.raises(ValueError, match="longer than the PLC string"):
        codec.encode("123456")
    with pytest.raises(ValueError, match="cannot hold"):
        codec.encode("snow ☃")
    assert codec_for("STRING", ADST_STRING, 0) == codec_for("STRING(80)", ADST_STRING, 81)


def test_wstring_is_utf16() -> None:
    codec = codec_for("WSTRING(3)", 31, 8)
    assert codec is not None
    assert codec.encode("☃a") == "☃a".encode("utf-16-le") + b"\0" * 4
    assert codec.decode("☃a".encode("utf-16-le") + b"\0\0xx") == "☃a"
    with pytest.raises(ValueError, match="longer"):
        codec.encode("abcd")


def test_time_types_carry_their_unit() -> None:
    assert codec_for("TIME", 0, 4).unit == "ms"  # type: ignore[union-attr]
    assert codec_for("LTIME", 0, 8).unit == "ns"  # type: ignore[union-attr]
    assert codec_for("DT", 0, 4).unit == "s"  # type: ignore[union-attr]


def test_aliases_and_enums_fall_back_to_their_ads_type() -> None:
    assert codec_for("E_Mode", ADST_INT16, 2) == codec_for("INT", 0, 2)
    assert codec_for("T_Counter", ADST_UINT32, 4) == codec_for("UDINT", 0, 4)
    assert codec_for("T_Name", ADST_STRING, 31) is not None


def test_structs_arrays_and_size_mismatches_are_not_scalars() -> None:
    assert codec_for("ST_Battery", ADST_BIGTYPE, 4) is None
    assert codec_for("ARRAY [1..1] OF INT", ADST_INT16, 2) is None
    assert codec_for("POINTER TO INT", 21, 8) is None
    assert codec_for("INT", ADST_INT16, 4) is None
    assert codec_for("E_Big", ADST_INT16, 4) is None
