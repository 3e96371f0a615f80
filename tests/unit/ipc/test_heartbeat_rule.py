"""When a child sends its heartbeat (ipc/heartbeat.py), on a hand-moved clock: the
first look sends, a steady child sends once per aligned ``heartbeat_s`` period, a
moved count, flag or text sends at once, a moved rate (a float beyond the 10 % deadband)
when the next look agrees (a late tick's double-then-nothing sends nothing), queue
lengths and totals never cause a beat, and a dict the worker keeps updating is compared
with what was really sent."""

from __future__ import annotations

from typing import Any

from edgeos.ipc.heartbeat import BeatRule, moved


def counters(pps: float = 6.0, **extra: Any) -> dict[str, Any]:
    return {"pps_in": 0.0, "pps_out": pps, "out_total": 600, "queued": 0,
            "error_count": 0, "last_error": None, "bus": {"connected": True}, **extra}


def sent_at(rule: BeatRule, looks: list[tuple[float, dict[str, Any]]]) -> list[float]:
    return [now for now, c in looks if rule.due(now, c)]


def test_a_steady_child_beats_once_per_aligned_period() -> None:
    rule = BeatRule(interval=1.0, heartbeat_s=5)
    looks = [(100.0 + t + 0.003, counters()) for t in range(16)]  # 100..115
    assert sent_at(rule, looks) == [100.003, 105.003, 110.003, 115.003]


def test_a_look_a_hair_before_its_tick_belongs_to_that_tick() -> None:
    rule = BeatRule(interval=1.0, heartbeat_s=5)
    assert rule.due(103.0, counters())
    assert not rule.due(104.0, counters())
    assert rule.due(104.9999999, counters())  # asyncio may wake a clock tick early


def test_a_short_watchdog_still_beats_at_its_own_period() -> None:
    rule = BeatRule(interval=1 / 3, heartbeat_s=1)
    looks = [(10 + n / 3, counters()) for n in range(9)]  # three seconds of looks
    assert len(sent_at(rule, looks)) == 3  # one per second: the watchdog needs 3 missed


def test_jitter_within_the_deadband_sends_nothing_a_real_change_the_next_look() -> None:
    rule = BeatRule(interval=1.0, heartbeat_s=5)
    assert rule.due(100.0, counters(6.0))
    assert not rule.due(101.0, counters(6.3))  # 5 %: the scheduler's jitter
    assert not rule.due(102.0, counters(5.7))
    assert not rule.due(103.0, counters(12.0))  # doubled: is it a change?
    assert rule.due(104.0, counters(12.5))  # yes: it holds


def test_a_late_tick_doubling_then_nothing_sends_nothing() -> None:
    rule = BeatRule(interval=1.0, heartbeat_s=60)
    assert rule.due(120.0, counters(6.0))
    rates = [6.0, 12.0, 0.0, 6.0, 0.0, 12.0, 6.0, 11.8, 5.9, 6.1]  # late, then early ticks
    assert sent_at(rule, [(121.0 + n, counters(r)) for n, r in enumerate(rates)]) == []
    # a source slower than the look: 12 every other second, nothing between
    assert sent_at(rule, [(140.0 + n, counters(12.0 * (n % 2))) for n in range(10)]) == []
    assert rule.due(180.0, counters(0.0))  # the period's beat carries whatever it is


def test_a_rate_moving_in_a_nested_dict_needs_two_looks_too() -> None:
    rule = BeatRule(interval=1.0, heartbeat_s=60)
    src = {"a": 5.9, "b": 5.9}
    assert rule.due(120.0, counters(bus={"source_pps": dict(src)}))
    assert not rule.due(121.0, counters(bus={"source_pps": {**src, "a": 11.8}}))
    assert not rule.due(122.0, counters(bus={"source_pps": {**src, "b": 11.8}}))  # another
    assert rule.due(123.0, counters(bus={"source_pps": {**src, "b": 11.8}}))  # b holds
    assert rule.due(124.0, counters(bus={"source_pps": {**src, "b": 11.8, "c": 1.0}}))  # key


def test_a_slow_drift_is_sent_once_it_adds_up() -> None:
    rule = BeatRule(interval=1.0, heartbeat_s=60)
    rates = [10.0, 10.5, 11.0, 11.5, 12.0]
    sent = [r for n, r in enumerate(rates) if rule.due(100.0 + n, counters(r))]
    assert sent == [10.0, 12.0]  # against the value last sent, not the previous look


def test_flags_texts_and_errors_send_at_once_queue_lengths_and_totals_never() -> None:
    rule = BeatRule(interval=1.0, heartbeat_s=5)
    assert rule.due(100.0, counters())
    assert not rule.due(101.0, counters(queued=500, out_total=9000))  # ride along
    assert rule.due(102.0, counters(bus={"connected": False}))
    assert rule.due(103.0, counters(bus={"connected": False}, last_error="timeout"))
    assert rule.due(104.0, counters(bus={"connected": False}, last_error="timeout",
                                    error_count=1))


def test_the_totals_a_child_names_never_cause_a_beat_at_any_depth() -> None:
    """The broker's and historian's totals (datapoints routed, rows recorded) grow with
    every message: compared like an error count they made an idle daemon's broker and
    historian beat every second or two for its first minutes."""
    rule = BeatRule(interval=1.0, heartbeat_s=5, ride_along=frozenset({"dp_in", "recorded"}))
    assert rule.due(100.0, counters(recorded=10, bus={"dp_in": 60, "malformed": 0}))
    assert sent_at(rule, [(100.0 + n, counters(recorded=10 + 120 * n, bus={
        "dp_in": 60 + 120 * n, "malformed": 0})) for n in range(1, 5)]) == []
    assert rule.due(105.0, counters(recorded=610, bus={"dp_in": 660, "malformed": 0}))
    assert rule.due(106.0, counters(recorded=730, bus={"dp_in": 780, "malformed": 1}))
    plain = BeatRule(interval=1.0, heartbeat_s=5)  # without the names: the totals beat
    assert plain.due(100.0, counters(bus={"dp_in": 60}))
    assert plain.due(101.0, counters(bus={"dp_in": 180}))


def test_a_dict_the_worker_keeps_updating_is_compared_with_what_was_sent() -> None:
    rule = BeatRule(interval=1.0, heartbeat_s=5)
    live = {"meters": {"a": "open"}}
    assert rule.due(100.0, counters(bus=live))
    live["meters"]["a"] = "closed"  # the same dict object, changed in place
    assert rule.due(101.0, counters(bus=live))


def test_moved_compares_numbers_relatively_and_the_rest_exactly() -> None:
    assert not moved(100, 109) and moved(100, 112)  # 10 % of the larger
    assert moved(0, 1) and moved(0.0, 0.1) and not moved(0, 0)
    assert moved(True, False)  # a flag is no number
    assert moved({"a": 1}, {"a": 1, "b": 2}) and not moved([1, 2], [1, 2])
    assert moved([1, 2], [1, 2, 3]) and moved("x", "y") and moved(None, 0)
    # with the previous look: a float counts when it was out on the same side then too
    assert moved(6.0, 12.0, 11.0) and not moved(6.0, 12.0, 0.0) and not moved(6.0, 12.0, 6.2)
    assert not moved(6.0, 12.0, None) and moved(6, 12, None)  # an int (a count) at once
    assert moved({"r": [6.0]}, {"r": [0.0]}, {"r": [1.0]}) and not moved(
        {"r": [6.0]}, {"r": [0.0]}, {"r": [9.0]})


def test_the_periods_beat_carries_no_one_look_jitter() -> None:
    """The period's beat caught a late tick (0 for a second, then 12, then 6 again):
    it sends the steady rate instead, so the next looks have no news against it. Sent
    as it was, that 0 was a beat (a wake-up and a pass of the supervisor) two seconds
    later for a rate that never changed."""
    rule = BeatRule(interval=1.0, heartbeat_s=5)
    assert rule.beat(100.0, counters(6.0)) == counters(6.0)
    for n in range(1, 5):
        assert rule.beat(100.0 + n, counters(6.0)) is None
    assert rule.beat(105.0, counters(0.0)) == counters(6.0)  # the watchdog's beat
    assert rule.beat(106.0, counters(12.0)) is None
    assert rule.beat(107.0, counters(6.0)) is None


def test_a_real_change_at_the_periods_beat_goes_out_at_the_next_look() -> None:
    rule = BeatRule(interval=1.0, heartbeat_s=5)
    assert rule.beat(100.0, counters(6.0, bus={"connected": True, "rtt": 2.0}))
    beat = rule.beat(105.0, counters(12.0, bus={"connected": False, "rtt": 9.0}))
    assert beat == counters(6.0, bus={"connected": False, "rtt": 2.0})  # a flag at once
    assert rule.beat(106.0, counters(12.0, bus={"connected": False, "rtt": 9.0})) == \
        counters(12.0, bus={"connected": False, "rtt": 9.0})  # the rates held: news


def test_a_change_confirmed_by_the_periods_look_is_carried_by_its_beat() -> None:
    rule = BeatRule(interval=1.0, heartbeat_s=5)
    assert rule.beat(100.0, counters(6.0))
    assert rule.beat(104.0, counters(12.0)) is None  # is it a change?
    assert rule.beat(105.0, counters(12.0)) == counters(12.0)  # yes: it held
    assert rule.beat(106.0, counters(12.0)) is None


def test_only_the_periods_beat_with_nothing_moved_is_steady() -> None:
    """A steady beat goes where the supervisor reads it at its pass (ipc/child.py):
    anything with news must not be one."""
    rule = BeatRule(interval=1.0, heartbeat_s=5)
    assert rule.beat(100.0, counters(6.0)) is not None and not rule.steady  # the first
    assert rule.beat(105.0, counters(0.0)) is not None and rule.steady  # jitter put back
    assert rule.beat(110.0, counters(6.0, error_count=1)) is not None and not rule.steady
    assert rule.beat(111.0, counters(6.0, error_count=2)) is not None and not rule.steady
    assert rule.beat(115.0, counters(6.0, error_count=2)) is not None and rule.steady
