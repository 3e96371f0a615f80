"""Register codec: known vectors in all four orders, round trips, refusals."""

from __future__ import annotations

import struct

import pytest
from edgeos.workers.modbus.registers import FORMATS, decode, encode, width
from hypothesis import given, settings
from hypothesis import strategies as st

# 0x12345678 as int32 and 1.0 as float32 in the four layouts devices use
VECTORS = [
    ("int32", 0x12345678, "big", "big", [0x1234, 0x5678]),  # ABCD
    ("int32", 0x12345678, "little", "big", [0x5678, 0x1234]),  # CDAB
    ("int32", 0x12345678, "big", "little", [0x3412, 0x7856]),  # BADC
    ("int32", 0x12345678, "little", "little", [0x7856, 0x3412]),  # DCBA
    ("float32", 1.0, "big", "big", [0x3F80, 0x0000]),
    ("float32", 1.0, "little", "big", [0x0000, 0x3F80]),
    ("float32", 1.0, "big", "little", [0x803F, 0x0000]),
    ("float32", 1.0, "little", "little", [0x0000, 0x803F]),
    ("int16", -2, "big", "big", [0xFFFE]),
    ("int16", -2, "little", "little", [0xFEFF]),
    ("uint16", 0xABCD, "little", "big", [0xABCD]),  # word order means nothing for one word
    ("uint32", 0xFFFFFFFE, "big", "big", [0xFFFF, 0xFFFE]),
    ("int64", -1, "big", "big", [0xFFFF] * 4),
    ("uint64", 0x0001000200030004, "little", "big", [4, 3, 2, 1]),
    ("float64", 1.0, "big", "big", [0x3FF0, 0, 0, 0]),
    ("float64", 1.0, "little", "big", [0, 0, 0, 0x3FF0]),
    ("string", "ABC", "big", "big", [0x4142, 0x4300]),
    ("string", "ABC", "little", "big", [0x4142, 0x4300]),  # strings keep register order
    ("string", "ABC", "big", "little", [0x4241, 0x0043]),
]


@pytest.mark.parametrize(("type_", "value", "wo", "bo", "regs"), VECTORS)
def test_known_vectors(type_: str, value: object, wo: str, bo: str, regs: list[int]) -> None:
    count = len(regs) if type_ == "string" else None
    assert encode(value, type_, word_order=wo, byte_order=bo, count=count) == regs  # type: ignore[arg-type]
    assert decode(regs, type_, word_order=wo, byte_order=bo) == value


def test_widths() -> None:
    assert [width(t) for t in FORMATS] == [1, 1, 2, 2, 4, 4, 2, 4]
    assert width("string", 8) == 8
    with pytest.raises(ValueError, match="count"):
        width("string")


def test_strings_stop_at_nul_and_trailing_blanks() -> None:
    assert decode([0x4142, 0x2020, 0x0000], "string") == "AB"
    assert decode([0x4142, 0x0043, 0x4400], "string") == "AB"  # NUL ends it
    assert decode([0x00FF], "string") == ""
    assert encode("ü", "string", count=1) == [0xC3BC]


@pytest.mark.parametrize(("value", "type_", "match"), [
    (40000, "int16", "does not fit int16"),
    (-1, "uint32", "does not fit uint32"),
    (1.5, "int32", "not an integer"),
    (True, "uint16", "not a number"),
    ("7", "int16", "not a number"),
    (float("nan"), "int16", "not an integer"),
    (1e39, "float32", "does not fit float32"),
])
def test_refusals(value: object, type_: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        encode(value, type_)  # type: ignore[arg-type]


def test_string_too_long_and_wrong_register_count() -> None:
    with pytest.raises(ValueError, match="does not fit 2 registers"):
        encode("too long", "string", count=2)
    with pytest.raises(ValueError, match="needs 2 registers"):
        decode([1], "float32")


def test_integral_float_is_accepted_for_integers() -> None:
    assert encode(12.0, "int16") == [12]


ORDERS = st.sampled_from(["big", "little"])


@settings(max_examples=300, deadline=None)
@given(data=st.data(), type_=st.sampled_from(sorted(FORMATS)), wo=ORDERS, bo=ORDERS)
def test_round_trip(data: st.DataObject, type_: str, wo: str, bo: str) -> None:
    fmt = FORMATS[type_]
    if type_.startswith("float"):
        value = data.draw(st.floats(allow_nan=False, width=32 if fmt == "f" else 64))
    else:
        bits = struct.calcsize(fmt) * 8
        lo, hi = (0, 2**bits - 1) if fmt.isupper() else (-(2**(bits - 1)), 2**(bits - 1) - 1)
        value = data.draw(st.integers(lo, hi))
    regs = encode(value, type_, word_order=wo, byte_order=bo)
    assert len(regs) == width(type_) and all(0 <= r <= 0xFFFF for r in regs)
    assert decode(regs, type_, word_order=wo, byte_order=bo) == value


@settings(max_examples=200, deadline=None)
@given(text=st.text(st.characters(min_codepoint=1, max_codepoint=0x7E), max_size=16)
       .map(str.rstrip), bo=ORDERS)
def test_string_round_trip(text: str, bo: str) -> None:
    regs = encode(text, "string", byte_order=bo, count=8)
    assert decode(regs, "string", byte_order=bo) == text
