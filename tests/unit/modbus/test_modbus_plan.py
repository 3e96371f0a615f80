"""Request grouping: as few reads as the device's limits and the map allow."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from edgeos.workers.modbus.plan import plan
from edgeos.workers.modbus.points import Point, load
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.modbus.defaults import complete


def points(*entries: dict[str, Any], **device: Any) -> list[Point]:
    regs = [{"name": f"p{n}", **e} for n, e in enumerate(entries)]
    return list(load(complete({"host": "h", "registers": regs, **device})).values())


def spans(blocks: list) -> list[tuple[str, int, int]]:
    return [(b.table, b.start, b.count) for b in blocks]


def test_contiguous_registers_are_one_request() -> None:
    pts = points({"address": 0}, {"address": 1, "type": "float32"},
                 {"address": 3, "type": "string", "count": 4}, {"address": 7})
    blocks = plan(pts)
    assert spans(blocks) == [("holding", 0, 8)]
    assert [p.name for p in blocks[0].points] == ["p0", "p1", "p2", "p3"]
    assert blocks[0].slice(pts[2], list(range(8))) == [3, 4, 5, 6]


def test_gaps_tables_and_intervals_split_requests() -> None:
    pts = points({"address": 0}, {"address": 2}, {"address": 2, "function": "input"},
                 {"address": 3, "poll_interval_s": 5}, {"address": 0, "function": "coil"},
                 {"address": 9, "function": "coil"})
    assert sorted(spans(plan(pts))) == [("coil", 0, 1), ("coil", 9, 1), ("holding", 0, 1),
                                        ("holding", 2, 1), ("holding", 3, 1), ("input", 2, 1)]
    merged = plan(pts, max_gap=1)
    assert ("holding", 0, 3) in spans(merged)
    assert ("coil", 0, 10) in spans(plan(pts, max_gap=8))


def test_limits_split_long_runs() -> None:
    pts = points(*({"address": a} for a in range(300)))
    assert spans(plan(pts)) == [("holding", 0, 125), ("holding", 125, 125),
                                ("holding", 250, 50)]
    assert len(plan(pts, max_registers=100)) == 3
    bits = points(*({"address": a, "function": "discrete"} for a in range(2500)))
    assert spans(plan(bits)) == [("discrete", 0, 2000), ("discrete", 2000, 500)]


def test_a_value_never_straddles_two_requests() -> None:
    pts = points(*({"address": 2 * n, "type": "float32"} for n in range(70)))
    blocks = plan(pts)
    assert spans(blocks) == [("holding", 0, 124), ("holding", 124, 16)]


def test_overlapping_views_of_the_same_registers_share_a_request() -> None:
    pts = points({"address": 0, "type": "uint32"}, {"address": 1}, {"address": 0})
    assert spans(plan(pts)) == [("holding", 0, 2)]


def test_a_point_wider_than_a_request_is_refused() -> None:
    pts = points({"address": 0, "type": "string", "count": 20})
    with pytest.raises(ValueError, match="more than one request may read"):
        plan(pts, max_registers=10)


def fewest(layout: list[tuple[int, int]], limit: int, gap: int) -> int:
    """The true minimum for sorted, non-overlapping points: try every split."""
    @cache
    def best(i: int) -> int:
        if i == len(layout):
            return 0
        out = len(layout)
        for j in range(i, len(layout)):
            if j > i and layout[j][0] - (layout[j - 1][0] + layout[j - 1][1]) > gap:
                break
            if layout[j][0] + layout[j][1] - layout[i][0] > limit:
                break
            out = min(out, 1 + best(j + 1))
        return out
    return best(0)


@settings(max_examples=300, deadline=None)
@given(widths=st.lists(st.sampled_from([1, 2, 4]), min_size=1, max_size=25),
       gaps=st.lists(st.integers(0, 6), min_size=25, max_size=25),
       limit=st.integers(4, 20), max_gap=st.integers(0, 4))
def test_greedy_grouping_is_minimal_and_covers_everything(
        widths: list[int], gaps: list[int], limit: int, max_gap: int) -> None:
    types = {1: "uint16", 2: "uint32", 4: "float64"}
    layout, address = [], 0
    for w, g in zip(widths, gaps, strict=False):
        address += g
        layout.append((address, w))
        address += w
    pts = points(*({"address": a, "type": types[w]} for a, w in layout))
    blocks = plan(pts, max_registers=limit, max_gap=max_gap)
    assert len(blocks) == fewest(layout, limit, max_gap)
    covered = [p.name for b in blocks for p in b.points]
    assert sorted(covered) == sorted(p.name for p in pts)
    for b in blocks:
        assert b.count <= limit
        assert all(b.start <= p.address and p.end <= b.start + b.count for p in b.points)
