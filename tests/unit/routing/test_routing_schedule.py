"""Schedules in local time: plain windows, midnight spans, days, caching per minute."""

from __future__ import annotations

import time

import pytest
from edgeos.ipc.routing.schedule import ScheduleError, parse_schedule

# 2024-01-01 was a Monday.
DAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}


def at(day: str, clock_time: str) -> float:
    """Epoch seconds of a local wall-clock time in the first week of 2024."""
    hours, minutes = map(int, clock_time.split(":"))
    return time.mktime((2024, 1, DAYS[day], hours, minutes, 0, 0, 0, -1))


def active(spec: dict[str, object], day: str, clock_time: str) -> bool:
    return parse_schedule(spec).active(at(day, clock_time))


@pytest.mark.parametrize(
    ("clock_time", "expected"),
    [("05:59", False), ("06:00", True), ("12:00", True), ("21:59", True), ("22:00", False)],
)
def test_daytime_window(clock_time: str, expected: bool) -> None:
    assert active({"from": "06:00", "to": "22:00"}, "wed", clock_time) is expected


@pytest.mark.parametrize(
    ("day", "clock_time", "expected"),
    [
        ("fri", "21:59", False),
        ("fri", "22:00", True),
        ("fri", "23:59", True),
        ("sat", "00:00", True),  # the Friday window runs on past midnight
        ("sat", "05:59", True),
        ("sat", "06:00", False),
        ("sat", "22:00", False),  # Saturday is not a start day
        ("fri", "03:00", False),  # Thursday's window would be, but Thursday is not listed
        ("thu", "23:00", False),
    ],
)
def test_midnight_span_belongs_to_the_start_day(day: str, clock_time: str, expected: bool) -> None:
    spec = {"days": ["fri"], "from": "22:00", "to": "06:00"}
    assert active(spec, day, clock_time) is expected


def test_midnight_span_wraps_sunday_to_monday() -> None:
    spec = {"days": ["sun"], "from": "23:00", "to": "01:00"}
    assert active(spec, "mon", "00:30") is True
    assert active(spec, "sun", "00:30") is False


def test_days_only_and_every_day() -> None:
    weekend = {"days": ["sat", "sun"]}
    assert active(weekend, "sat", "00:00") is True
    assert active(weekend, "sun", "23:59") is True
    assert active(weekend, "mon", "12:00") is False
    assert active({"from": "00:00", "to": "24:00"}, "tue", "23:59") is True
    assert active({"from": "08:00", "to": "08:00"}, "tue", "03:00") is True  # equal: all day


def test_days_restrict_a_daytime_window() -> None:
    spec = {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "06:00", "to": "22:00"}
    assert active(spec, "mon", "07:00") is True
    assert active(spec, "sat", "07:00") is False


def test_answer_is_cached_per_minute() -> None:
    calls: list[float] = []

    def localtime(now: float) -> time.struct_time:
        calls.append(now)
        return time.localtime(now)

    schedule = parse_schedule({"from": "06:00", "to": "22:00"})
    schedule._localtime = localtime
    base = at("mon", "10:00")
    for offset in (0, 1, 30, 59.9):
        assert schedule.active(base + offset)
    assert len(calls) == 1
    schedule.active(base + 60)
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"from": "6:00", "to": "22:00"}, "not HH:MM"),
        ({"from": "24:00", "to": "22:00"}, "not a time of day"),
        ({"from": "06:60", "to": "22:00"}, "not a time of day"),
        ({"from": "06:00"}, "go together"),
        ({"days": ["monday"]}, "unknown day"),
        ({"days": []}, "non-empty"),
        ({"weekdays": ["mon"]}, "unknown key"),
    ],
)
def test_refusals(spec: dict[str, object], reason: str) -> None:
    with pytest.raises(ScheduleError, match=reason):
        parse_schedule(spec)
