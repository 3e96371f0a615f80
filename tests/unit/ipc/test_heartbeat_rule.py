"""When a child sends its heartbeat (ipc/heartbeat.py), on a hand-moved clock: the
first look sends, a steady child sends once per aligned ``heartbeat_s`` period, a
moved figure (beyond the 10 % deadband, or any changed flag or text) sends at once,
queue lengths and totals never cause a beat, and a dict the worker keeps updating is compared
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


def test_jitter_within_the_deadband_sends_nothing_a_real_change_sends_at_once() -> None:
    rule = BeatRule(interval=1.0, heartbeat_s=5)
    assert rule.due(100.0, counters(6.0))
    assert not rule.due(101.0, counters(6.3))  # 5 %: the scheduler's jitter
    assert not rule.due(102.0, counters(5.7))
    assert rule.due(103.0, counters(12.0))  # doubled: at once
    assert not rule.due(104.0, counters(12.0))


def test_a_slow_drift_is_sent_once_it_adds_up() -> None:
    rule = BeatRule(interval=1.0, heartbeat_s=60)
    rates = [10.0, 10.5, 11.0, 11.5, 12.0]
    sent = [r for n, r in enumerate(rates) if rule.due(100.0 + n, counters(r))]
    assert sent == [10.0, 11.5]  # against the value last sent, not the previous look


def test_flags_texts_and_errors_send_at_once_queue_lengths_and_totals_never() -> None:
    rule = BeatRule(interval=1.0, heartbeat_s=5)
    assert rule.due(100.0, counters())
    assert not rule.due(101.0, counters(queued=500, out_total=9000))  # ride along
    assert rule.due(102.0, counters(bus={"connected": False}))
    assert rule.due(103.0, counters(bus={"connected": False}, last_error="timeout"))
    assert rule.due(104.0, counters(bus={"connected": False}, last_error="timeout",
                                    error_count=1))


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
