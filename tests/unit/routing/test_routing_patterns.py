"""Pattern matching: exact, '*', '**' at start/middle/end, against a reference matcher."""

from __future__ import annotations

import pytest
from edgeos.ipc.routing.patterns import PatternIndex, literal_prefix, pattern_problem
from hypothesis import given, settings
from hypothesis import strategies as st


def reference_match(pattern: list[str], address: list[str]) -> bool:
    """The obvious recursive definition: '*' one segment, '**' zero or more."""
    if not pattern:
        return not address
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(reference_match(rest, address[skip:]) for skip in range(len(address) + 1))
    if not address:
        return False
    return (head == "*" or head == address[0]) and reference_match(rest, address[1:])


def matches(pattern: str, address: str) -> bool:
    return PatternIndex([(0, pattern)]).match(address) == [0]


@pytest.mark.parametrize(
    ("pattern", "address", "expected"),
    [
        ("plc_001.MAIN.x", "plc_001.MAIN.x", True),
        ("plc_001.MAIN.x", "plc_001.MAIN.y", False),
        ("plc_001.MAIN.x", "plc_001.MAIN.x.y", False),
        ("plc_001.*.temperature", "plc_001.kitchen.temperature", True),
        ("plc_001.*.temperature", "plc_001.temperature", False),
        ("plc_001.*.temperature", "plc_001.a.b.temperature", False),
        ("plc_001.*", "plc_001.x", True),
        ("plc_001.*", "plc_001", False),
        ("*.voltage", "bms.voltage", True),
        ("plc_001.**", "plc_001.a.b.c", True),
        ("plc_001.**", "plc_001", True),  # '**' includes zero segments
        ("plc_001.**", "plc_002.a", False),
        ("**.voltage", "voltage", True),
        ("**.voltage", "bt.bms_001.voltage", True),
        ("**.voltage", "bt.bms_001.voltage.x", False),
        ("plc_001.**.fTemp", "plc_001.fTemp", True),
        ("plc_001.**.fTemp", "plc_001.MAIN.sub.fTemp", True),
        ("plc_001.**.fTemp", "plc_001.MAIN.sub.fTemp2", False),
        ("a.**.b.**.c", "a.b.c", True),
        ("a.**.b.**.c", "a.x.b.y.z.c", True),
        ("a.**.b.**.c", "a.x.y.c", False),
        ("a.*.**", "a", False),
        ("a.*.**", "a.b", True),
        ("**", "anything.at.all", True),
    ],
)
def test_cases(pattern: str, address: str, expected: bool) -> None:
    assert matches(pattern, address) is expected
    assert reference_match(pattern.split("."), address.split(".")) is expected


def test_results_come_in_file_order_and_mix_exact_and_patterns() -> None:
    index = PatternIndex(
        [(0, "plc_001.**"), (1, "plc_001.MAIN.x"), (2, "*.MAIN.x"), (3, "plc_001.MAIN.x")]
    )
    assert index.match("plc_001.MAIN.x") == [0, 1, 2, 3]
    assert index.match("plc_002.MAIN.x") == [2]
    assert index.match("other") == []


def test_pattern_problems() -> None:
    assert pattern_problem("plc_001.*.x") is None
    assert "mixes" in pattern_problem("plc_001.temp*")
    assert "mixes" in pattern_problem("plc_001.***")
    assert "empty segment" in pattern_problem("plc_001..*")
    assert "whitespace" in pattern_problem("plc_001.* x")


def test_literal_prefix() -> None:
    assert literal_prefix("bt.bms_001.*.x") == "bt.bms_001"
    assert literal_prefix("**.x") == ""
    assert literal_prefix("a.b") == "a.b"


SEGMENTS = st.sampled_from(["a", "b", "c"])
PATTERN_SEGMENTS = st.sampled_from(["a", "b", "c", "*", "**"])


@settings(max_examples=400, deadline=None)
@given(
    patterns=st.lists(st.lists(PATTERN_SEGMENTS, min_size=1, max_size=5), min_size=1, max_size=6),
    address=st.lists(SEGMENTS, min_size=1, max_size=6),
)
def test_index_agrees_with_reference(patterns: list[list[str]], address: list[str]) -> None:
    index = PatternIndex(enumerate(".".join(pattern) for pattern in patterns))
    expected = [n for n, pattern in enumerate(patterns) if reference_match(pattern, address)]
    assert index.match(".".join(address)) == expected
