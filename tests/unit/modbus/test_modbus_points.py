"""Register map entries: defaults, scaling, scale factors, writes, broken maps."""

from __future__ import annotations

from typing import Any

import pytest
from edgeos.workers.modbus.points import MapError, ScaleUnknown, exponent_of, load

from tests.unit.modbus.defaults import complete


def one(**entry: Any) -> Any:
    return load(complete({"host": "h", "registers": [{"name": "p", "address": 0, **entry}]}))["p"]


def test_defaults_follow_the_device_config() -> None:
    pts = load(complete({"host": "h", "poll_interval_s": 2, "word_order": "little",
                "registers": [{"name": "a", "address": 3},
                              {"name": "b", "address": 4, "type": "float32",
                               "byte_order": "little", "poll_interval_s": 0.5},
                              {"name": "c", "function": "coil", "address": 7}]}))
    a, b, c = pts["a"], pts["b"], pts["c"]
    assert (a.table, a.type, a.width, a.interval, a.word_order) == \
        ("holding", "uint16", 1, 2.0, "little")
    assert (b.width, b.interval, b.word_order, b.byte_order) == (2, 0.5, "little", "little")
    assert (c.type, c.bits, c.writable) == ("bool", True, False)


@pytest.mark.parametrize(("scale", "raw", "value"), [
    (0.1, [235], 23.5), (0.01, [0xFFFF], 655.35), (0.25, [3], 0.75), (10, [7], 70),
    (1, [7], 7), (-1, [7], -7), (0.001, [1], 0.001)])
def test_scale_gives_clean_decimals(scale: float, raw: list[int], value: float) -> None:
    got, quality = one(scale=scale).value(raw)
    assert quality == "good" and got == value and type(got) is type(value)


def test_floats_are_scaled_without_rounding() -> None:
    p = one(type="float32", scale=2)
    assert p.value(p.encode(1.5))[0] == 1.5
    assert p.encode(1.5) == [0x3F40, 0]  # 0.75 on the device


def test_scale_factor_exponent_and_not_implemented() -> None:
    pts = load(complete({"host": "h", "registers": [
        {"name": "W", "address": 0, "type": "int16", "scale_factor": "W_SF",
         "not_implemented": -32768},
        {"name": "W_SF", "address": 1, "type": "int16", "not_implemented": -32768}]}))
    w, sf = pts["W"], pts["W_SF"]
    with pytest.raises(ScaleUnknown, match="not been read"):
        exponent_of(w, pts, {})
    raw = {"W_SF": [0xFFFE]}  # -2
    assert exponent_of(w, pts, raw) == -2
    assert w.value([12345], -2) == (123.45, "good")
    assert w.value([0x8000], -2) == (None, "uncertain")
    assert w.encode(-1.5, -2) == [0xFF6A]  # -150
    assert w.value([3], 2) == (300, "good")
    with pytest.raises(ScaleUnknown, match="holds no exponent"):
        exponent_of(w, pts, {"W_SF": [0x8000]})
    with pytest.raises(ScaleUnknown, match="holds no exponent"):
        exponent_of(w, pts, {"W_SF": [11]})
    assert exponent_of(sf, pts, raw) is None


def test_address_offset_shifts_every_register() -> None:
    pts = load(complete({"host": "h", "address_offset": -1, "registers": [
        {"name": "a", "address": 40001}, {"name": "b", "function": "coil", "address": 1}]}))
    assert (pts["a"].address, pts["b"].address) == (40000, 0)
    with pytest.raises(MapError, match=r"address -1 \(after address_offset -1\)"):
        load(complete({"host": "h", "address_offset": -1,
                       "registers": [{"name": "a", "address": 0}]}))


def test_non_finite_floats_are_uncertain() -> None:
    p = one(type="float32")
    assert p.value([0x7FC0, 0]) == (None, "uncertain")  # NaN
    assert p.value([0x7F80, 0]) == (None, "uncertain")  # +inf


@pytest.mark.parametrize(("value", "bits"), [
    (True, [True]), (0, [False]), (1.0, [True]), ("on", [True]), ("FALSE", [False])])
def test_coil_values(value: Any, bits: list[bool]) -> None:
    assert one(function="coil").encode(value) == bits


@pytest.mark.parametrize(("entry", "value", "match"), [
    ({"function": "coil"}, 2, "not a boolean"),
    ({"function": "coil"}, "maybe", "not a boolean"),
    ({"type": "string", "count": 2}, 5, "not a string"),
    ({"type": "int16"}, "5", "not a number"),
    ({"type": "int16", "scale": 0.1}, 4000, "does not fit int16"),
    ({"type": "int16"}, float("inf"), "not a finite number"),
])
def test_write_refusals(entry: dict[str, Any], value: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        one(**entry).encode(value)


def test_scaled_integer_writes_round_to_the_nearest_step() -> None:
    p = one(type="int16", scale=0.1)
    assert p.encode(23.46) == [235]
    assert p.encode(True) == [10]


@pytest.mark.parametrize(("registers", "match"), [
    ([{"name": "a", "address": 0}, {"name": "a", "address": 1}], "duplicate name"),
    ([{"name": "a", "address": 0, "scale_factor": "nope"}], "not an integer register"),
    ([{"name": "a", "address": 0, "scale_factor": "f"},
      {"name": "f", "address": 1, "type": "float32"}], "not an integer register"),
    ([{"name": "a", "address": 0, "type": "bool"}], "does not fit function 'holding'"),
    ([{"name": "a", "address": 0, "function": "input", "writable": True}], "only holding"),
    ([{"name": "a", "address": 65535, "type": "uint32"}], "does not fit 0..65535"),
    ([{"name": "a", "address": 0, "type": "string"}], "count"),
])
def test_broken_maps(registers: list[dict[str, Any]], match: str) -> None:
    with pytest.raises(MapError, match=match):
        load(complete({"host": "h", "registers": registers}))
