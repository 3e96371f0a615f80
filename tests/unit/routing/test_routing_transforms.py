"""Every transform: values, refusals at parse time, suppression, state, inverses."""

from __future__ import annotations

import math
from typing import Any

import pytest
from edgeos.ipc.routing.transforms import (
    SUPPRESS,
    WINDOW_LIMIT,
    Transform,
    TransformError,
    parse_transform,
)


def run(transform: Transform, values: list[Any], times: list[float] | None = None) -> list[Any]:
    """Feed values through one step with one state, as the router does for one address."""
    state = transform.new_state()
    times = times or [float(n) for n in range(len(values))]
    return [transform.apply(value, state, now) for value, now in zip(values, times, strict=True)]


def one(text: str, value: Any) -> Any:
    return run(parse_transform(text), [value])[0]


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("scale(0.001)", 12800, 12.8),
        ("scale(2)", 3, 6),
        ("scale(-1.5)", 2.0, -3.0),
        ("offset(-273.15)", 300.0, 300.0 - 273.15),
        ("offset(1)", 1, 2),
        ("round(1)", 12.34, 12.3),
        ("round(0)", 12.5, 12),
        ("round(0)", 13.5, 14),
        ("clamp(0, 100)", 120, 100),
        ("clamp(0, 100)", -5, 0),
        ("clamp(0, 100)", 50.5, 50.5),
        ("invert()", True, False),
        ("invert()", False, True),
        ("invert()", 5, -5),
        ("invert()", -2.5, 2.5),
        ('map({"on": 1, "off": 0})', "on", 1),
        ('map({"on": 1, "off": 0})', "standby", "standby"),
        ('map({"1": "on", "0": "off"})', 1, "on"),
        ('map({"1": "on", "0": "off"})', 1.0, "on"),
        ("map({1: 'on', 0: 'off'})", 0, "off"),
        ("map({true: 'ON', false: 'OFF'})", True, "ON"),
        ('map({"true": "ON"})', True, "ON"),
        ('map({"null": 0})', None, 0),
        ('map({"a": [1, 2]})', "a", [1, 2]),
        ('map({"a": 1})', [1], [1]),
        ("to_bool()", 1, True),
        ("to_bool()", 0.0, False),
        ("to_bool()", " ON ", True),
        ("to_bool()", "off", False),
        ("to_bool()", True, True),
        ("to_int()", 3.9, 3),
        ("to_int()", -3.9, -3),
        ("to_int()", "42", 42),
        ("to_int()", "4.5", 4),
        ("to_int()", True, 1),
        ("to_float()", "2.5", 2.5),
        ("to_float()", 2, 2.0),
        ("to_float()", False, 0.0),
    ],
)
def test_stateless_values(text: str, value: Any, expected: Any) -> None:
    result = one(text, value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("scale(2)", "12"),
        ("scale(2)", True),
        ("scale(2)", None),
        ("offset(1)", [1]),
        ("round(1)", "1.5"),
        ("clamp(0, 1)", None),
        ("invert()", "true"),
        ("to_bool()", "maybe"),
        ("to_bool()", None),
        ("to_int()", "abc"),
        ("to_int()", math.inf),
        ("to_int()", None),
        ("to_float()", "x"),
        ("to_float()", {"a": 1}),
        ("deadband(1)", "3"),
        ("avg(10)", None),
        ("avg(10)", math.nan),
        ("min(10)", math.nan),
        ("max(10)", "x"),
    ],
)
def test_bad_values_raise_for_the_router_to_count(text: str, value: Any) -> None:
    with pytest.raises((TypeError, ValueError, ArithmeticError)):
        one(text, value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("scael(0.001)", "unknown transform 'scael'"),
        ("scale", "not of the form name(args)"),
        ("scale(", "not of the form name(args)"),
        ("scale()", "scale() takes 1 argument(s), got 0"),
        ("scale(1, 2)", "takes 1 argument(s), got 2"),
        ("scale('x')", "must be a finite number"),
        ("scale(true)", "must be a finite number"),
        ("scale(f=1)", "no keyword arguments"),
        ("scale(1+1)", "arguments must be literals"),
        ("scale(__import__('os'))", "arguments must be literals"),
        ("os.system('x')", "not of the form name(args)"),
        ("round(1.5)", "integer 0..15"),
        ("round(16)", "integer 0..15"),
        ("clamp(5, 1)", "greater than hi"),
        ("clamp(0)", "takes 2 argument(s)"),
        ("invert(1)", "takes 0 argument(s)"),
        ("map([1, 2])", "object literal"),
        ("map({'a': 1, 'a': 2})", "repeated"),
        ("map({1: 'x', '1': 'y'})", "repeated"),
        ("map({'a': x})", "arguments must be literals"),
        ("deadband(-1)", ">= 0"),
        ("throttle(0)", "> 0"),
        ("avg(-5)", "> 0"),
        ("min('5')", "finite number"),
        ("max(1e999)", "finite number"),
        ("to_bool(1)", "takes 0 argument(s)"),
        ("", "not of the form name(args)"),
    ],
)
def test_parse_refusals(text: str, reason: str) -> None:
    with pytest.raises(TransformError, match=None) as caught:
        parse_transform(text)
    assert reason in str(caught.value)


def test_negative_literals_and_whitespace() -> None:
    assert one(" offset( -2 ) ", 5) == 3
    assert one("clamp(-1.5, +1.5)", 9) == 1.5


def test_deadband_suppresses_small_changes_against_last_emitted() -> None:
    results = run(parse_transform("deadband(0.5)"), [10.0, 10.2, 10.4, 10.5, 10.9, 11.0, 9.9])
    assert results == [10.0, SUPPRESS, SUPPRESS, 10.5, SUPPRESS, 11.0, 9.9]


def test_deadband_zero_passes_everything() -> None:
    assert run(parse_transform("deadband(0)"), [1, 1, 1]) == [1, 1, 1]


def test_throttle_lets_one_value_per_period() -> None:
    results = run(parse_transform("throttle(2)"), list("abcdef"), [0, 0.5, 1.9, 2.0, 3.0, 4.5])
    assert results == ["a", SUPPRESS, SUPPRESS, "d", SUPPRESS, "f"]


def test_avg_over_sliding_window() -> None:
    results = run(parse_transform("avg(10)"), [1, 2, 3, 10], [0, 5, 9, 12])
    # at t=12 the samples of t=0 have left the window (kept: t > 2)
    assert results == [1.0, 1.5, 2.0, 5.0]


def test_avg_is_exact_across_magnitudes() -> None:
    results = run(parse_transform("avg(1)"), [1e16, 0.001], [0, 5])
    assert results == [1e16, 0.001]
    assert run(parse_transform("avg(100)"), [0.1, 0.2], [0, 1]) == [0.1, (0.1 + 0.2) / 2]


def test_min_and_max_over_sliding_window() -> None:
    times = [0, 1, 2, 3, 12, 13]
    values = [5, 3, 8, 4, 6, 1]
    assert run(parse_transform("min(10)"), values, times) == [5, 3, 3, 3, 4, 1]
    assert run(parse_transform("max(10)"), values, times) == [5, 5, 8, 8, 6, 6]


def test_windows_are_bounded() -> None:
    for text in ("avg(1e9)", "min(1e9)", "max(1e9)"):
        step = parse_transform(text)
        state = step.new_state()
        count = WINDOW_LIMIT + 500
        for n in range(count):
            result = step.apply(n if text != "max(1e9)" else -n, state, 0.0)
        assert len(state[0]) <= WINDOW_LIMIT
        expected = {
            "avg(1e9)": (count - WINDOW_LIMIT + count - 1) / 2,
            "min(1e9)": count - WINDOW_LIMIT,
            "max(1e9)": -(count - WINDOW_LIMIT),
        }[text]
        assert result == expected


def test_state_belongs_to_the_state_object() -> None:
    step = parse_transform("deadband(1)")
    first, second = step.new_state(), step.new_state()
    assert step.apply(10, first, 0) == 10
    assert step.apply(10.5, second, 0) == 10.5  # another address: its own first value
    assert step.apply(10.5, first, 0) is SUPPRESS


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("scale(0.001)", 12800),
        ("scale(4)", 2.5),
        ("offset(-273.15)", 300.0),
        ("invert()", True),
        ("invert()", 7),
        ('map({"0": "off", "1": "on"})', 1),
        ('map({"true": "ON", "false": "OFF"})', False),
        ("map({'auto': 1, 'manual': 2})", "manual"),
        ("to_int()", 3),
        ("to_float()", 2.0),
    ],
)
def test_inverse_undoes_the_step(text: str, value: Any) -> None:
    step = parse_transform(text)
    assert step.inverse()(step.apply(value, None, 0)) == value


def test_map_inverse_passes_unmapped_through_and_restores_types() -> None:
    undo = parse_transform('map({"0": "off", "1": "on"})').inverse()
    assert undo("on") == 1
    assert type(undo("on")) is int
    assert undo("unknown") == "unknown"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("scale(0)", "factor 0"),
        ("round(1)", "no inverse"),
        ("clamp(0, 1)", "no inverse"),
        ("deadband(1)", "no inverse"),
        ("throttle(1)", "no inverse"),
        ("avg(1)", "no inverse"),
        ("min(1)", "no inverse"),
        ("max(1)", "no inverse"),
        ("to_bool()", "many values map to one"),
        ("map({'a': 1, 'b': 1})", "two keys map to '1'"),
        ("map({'a': [1]})", "list or object"),
    ],
)
def test_non_invertible(text: str, reason: str) -> None:
    with pytest.raises(TransformError) as caught:
        parse_transform(text).inverse()
    assert reason in str(caught.value)
