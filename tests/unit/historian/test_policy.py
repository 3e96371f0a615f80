"""What the historian records of a change stream: types, rules, deadband, interval."""

from __future__ import annotations

from typing import Any

from edgeos.ipc.historian.policy import Policy
from edgeos.ipc.historian.settings import Settings


def make(**settings: Any) -> tuple[Policy, dict[str, int]]:
    ids: dict[str, int] = {}
    policy = Policy(Settings.from_dict(settings), lambda name: ids.setdefault(name, len(ids)))
    return policy, ids


def feed(policy: Policy, items: list[list[Any]], prefix: str = "plc.") -> list[Any]:
    rows: list[Any] = []
    policy.accept(prefix, items, rows)
    return rows


def test_numbers_and_booleans_are_recorded_other_types_not() -> None:
    policy, ids = make(min_interval_s=0)
    rows = feed(policy, [["a", 1.5, 1000], ["b", True, 1000], ["c", "text", 1000],
                         ["d", None, 1000], ["e", float("nan"), 1000], ["f", [1], 1000]])
    assert rows == [(ids["plc.a"], 1000, 1.5), (ids["plc.b"], 1000, 1.0)]
    assert policy.counters["not_numeric"] == 4


def test_equal_values_and_changes_within_the_deadband_are_dropped() -> None:
    policy, _ = make(min_interval_s=0, deadband=0.5)
    rows = feed(policy, [["t", 20.0, 1], ["t", 20.4, 2], ["t", 19.6, 3], ["t", 21.0, 4],
                         ["t", 21.0, 5]])
    assert [r[2] for r in rows] == [20.0, 21.0]
    policy, _ = make(min_interval_s=0)
    assert [r[2] for r in feed(policy, [["x", 1, 1], ["x", 1, 2], ["x", 2, 3]])] == [1.0, 2.0]


def test_minimum_interval_holds_back_the_latest_value_and_writes_it_later() -> None:
    policy, ids = make(min_interval_s=1)
    rows = feed(policy, [["sw", True, 10_000], ["sw", False, 10_100], ["sw", True, 10_200],
                         ["sw", False, 10_300]])
    assert rows == [(ids["plc.sw"], 10_000, 1.0)]
    later: list[Any] = []
    policy.due(10_500, later)
    assert later == []  # the interval is not over yet
    policy.due(11_000, later)
    assert later == [(ids["plc.sw"], 10_300, 0.0)]  # the last state is on record
    assert policy.counters["filtered"] == 2


def test_rules_first_match_wins_and_record_none_records_only_what_rules_name() -> None:
    policy, ids = make(record="none", min_interval_s=0, points=[
        {"match": "plc.MAIN.secret", "record": False},
        {"match": "plc.MAIN.*", "deadband": 10},
    ])
    rows = feed(policy, [["MAIN.secret", 1, 1], ["MAIN.temp", 20, 1], ["MAIN.temp", 25, 2],
                         ["MAIN.temp", 31, 3], ["other", 5, 1]])
    assert rows == [(ids["plc.MAIN.temp"], 1, 20.0), (ids["plc.MAIN.temp"], 3, 31.0)]
    assert "plc.other" not in ids and "plc.MAIN.secret" not in ids


def test_the_number_of_series_is_bounded_and_refusals_are_counted() -> None:
    policy, ids = make(min_interval_s=0, max_series=3)
    rows = feed(policy, [[f"p{n}", n + 1, 1] for n in range(10)])
    assert len(rows) == 3 and len(ids) == 3
    assert policy.counters["series_refused"] == 7


def test_datapoints_that_are_not_recorded_do_not_use_up_the_series_limit() -> None:
    policy, ids = make(min_interval_s=0, max_series=2, points=[{"match": "plc.skip.*",
                                                                "record": False}])
    feed(policy, [[f"skip.{n}", n, 1] for n in range(5)])
    rows = feed(policy, [["a", 1, 1], ["b", 2, 1], ["c", 3, 1]])
    assert len(rows) == 2 and set(ids) == {"plc.a", "plc.b"}


def test_malformed_items_are_counted_and_skipped() -> None:
    policy, ids = make(min_interval_s=0)
    rows = feed(policy, [[5, 1.0, 1], ["a", 1.0, "soon"], ["b"], None, ["c", 2, 3.7],
                         ["d", 10**30, 4], ["e", float("inf"), 5]])
    assert rows == [(ids["plc.c"], 3, 2.0), (ids["plc.d"], 4, 1e30)]
    assert policy.counters["filtered"] == 4 and policy.counters["not_numeric"] == 1
