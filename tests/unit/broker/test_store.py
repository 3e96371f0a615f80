"""Last values: per-source points, lookups by address, write-behind and restore."""

from __future__ import annotations

import asyncio
import json

from edgeos.ipc.broker.store import UNPLANNED, LastValues, encode
from edgeos.ipc.routing import AddressResolver
from hypothesis import given, settings
from hypothesis import strategies as st


def test_get_finds_the_longest_source_holding_the_path(tmp_path) -> None:
    lv = LastValues(tmp_path / "lv.db")
    lv.put("bt", ("bms_001.voltage", 1, 0, "good", True, None))
    lv.put("bt.bms_001", ("voltage", 2, 0, "good", True, None))
    lv.put("bt", ("other.x", 3, 0, "good", True, None))
    assert lv.get("bt.bms_001.voltage")[1] == 2
    assert lv.get("bt.other.x")[1] == 3
    assert lv.get("bt.nothing") is None and lv.get("nodot") is None
    assert len(lv) == 3
    lv.point("bt", "planned.only")  # a point without a value yet is not a datapoint
    assert len(lv) == 3 and lv.get("bt.planned.only") is None


def test_flush_then_restore_keeps_values_and_old_ts(tmp_path) -> None:
    lv = LastValues(tmp_path / "lv.db")
    lv.put("bt.bms_001", ("voltage", 52.1, 1000, "good", True, "V"))
    lv.put("plc", ("MAIN.mode", "auto", 2000, "uncertain", False, None))
    lv.put("plc", ("blob", object(), 3000, "good", True, None))  # not JSON: not persisted
    asyncio.run(lv.flush())
    assert all(not points for points in lv.unsaved.values())
    assert all(point[2] is False for points in lv.sources.values()
               for point in points.values())
    lv.close()

    again = LastValues(tmp_path / "lv.db")
    # bt.bms_001 is configured; "plc" is not any more and splits at its first dot.
    assert again.restore(AddressResolver(["bt", "bt.bms_001"]).resolve) == 2
    assert again.get("bt.bms_001.voltage") == ("voltage", 52.1, 1000, "good", True, "V")
    assert again.sources["plc"]["MAIN.mode"][0] == ("MAIN.mode", "auto", 2000, "uncertain",
                                                   False, None)
    assert again.sources["plc"]["MAIN.mode"][1] is UNPLANNED


def test_a_point_is_listed_unsaved_once(tmp_path) -> None:
    lv = LastValues(tmp_path / "lv.db")
    for v in range(3):
        lv.put("s", ("p", v, 0, "good", True, None))
    assert [p[0][1] for p in lv.unsaved["s"]] == [2]
    lv.forget_plans()
    assert lv.sources["s"]["p"][1] is UNPLANNED


def test_a_big_flush_lets_the_loop_route_between_slices_and_loses_no_update(tmp_path) -> None:
    """Values that arrive while a flush encodes are in this flush or the next one."""
    from edgeos.ipc.broker.store import FLUSH_SLICE, FLUSH_SLICE_NS

    spent = iter(range(0, 10**12, FLUSH_SLICE_NS))  # each look at the clock: a slice used up
    lv = LastValues(tmp_path / "lv.db", cpu_clock=lambda: next(spent))
    n = FLUSH_SLICE * 5
    for i in range(n):
        lv.put("s", (f"p{i}", 0, 0, "good", True, None))
    turns = []

    async def meanwhile() -> None:  # what the broker's hot path does between slices
        for turn in range(3):
            await asyncio.sleep(0)
            turns.append(turn)
            lv.put("s", ("p0", f"early{turn}", 1, "good", True, None))  # already encoded
            lv.put("s", (f"p{n - 1}", f"late{turn}", 1, "good", True, None))  # not yet

    async def scenario() -> None:
        await asyncio.gather(lv.flush(), meanwhile())
        assert turns == [0, 1, 2]  # the loop ran while the flush encoded
        assert [p[0][0] for p in lv.unsaved["s"]] == ["p0"]  # listed again for the next
        await lv.flush()

    asyncio.run(scenario())
    lv.close()
    again = LastValues(tmp_path / "lv.db")
    assert again.restore(AddressResolver(["s"]).resolve) == n
    assert again.get("s.p0")[1] == "early2"
    assert again.get(f"s.p{n - 1}")[1] == "late2"


def test_a_flush_within_its_cpu_budget_does_not_yield(tmp_path) -> None:
    """The loop turns only when a slice used up its CPU: a quiet second's few rows go in
    one turn, not one turn per ``FLUSH_SLICE`` rows."""
    from edgeos.ipc.broker.store import FLUSH_SLICE

    lv = LastValues(tmp_path / "lv.db", cpu_clock=lambda: 0)
    for i in range(FLUSH_SLICE * 5):
        lv.put("s", (f"p{i}", i, 0, "good", True, None))
    turns = []

    async def meanwhile() -> None:
        await asyncio.sleep(0)
        turns.append(len(lv.unsaved["s"]))

    async def scenario() -> None:
        await asyncio.gather(lv.flush(), meanwhile())

    asyncio.run(scenario())
    assert turns == [0]  # the flush had taken every row before the loop turned
    lv.close()
    again = LastValues(tmp_path / "lv.db")
    assert again.restore(AddressResolver(["s"]).resolve) == FLUSH_SLICE * 5


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8))
def test_encode_writes_what_json_dumps_writes(value: object) -> None:
    assert encode(value) == json.dumps(value)


def test_len_counts_points_the_fast_path_filled(tmp_path) -> None:
    """The fast path stores into a point without a call here: len() still counts it once
    it has a value, and never a point that only got a plan."""
    lv = LastValues(tmp_path / "lv.db")
    planned = [lv.point("src", f"p{i}") for i in range(3)]
    assert len(lv) == 0
    planned[0][0] = ("p0", 1, 0, "good", True, None)  # what _fastpath.c does
    assert len(lv) == 1
    planned[2][0] = ("p2", 1, 0, "good", True, None)
    lv.put("dst", ("q", 1, 0, "good", True, None))
    assert len(lv) == 3 and len(lv.empty) == 1
