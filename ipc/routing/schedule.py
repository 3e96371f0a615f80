"""Route schedules: ``{"days": ["mon", ...], "from": "06:00", "to": "22:00"}`` in local time.

- ``from`` is inclusive, ``to`` exclusive; ``to`` may be ``24:00``. ``from`` == ``to`` means
  the whole day. Without ``from``/``to`` the route is active all day on ``days``.
- ``from`` > ``to`` spans midnight: ``22:00``-``06:00`` is active from 22:00 until 06:00 the
  next morning. ``days`` names the day a window STARTS on: with ``["fri"]`` that window runs
  from Friday 22:00 to Saturday 06:00.
- Without ``days`` every day counts.

The answer only changes at minute boundaries, so it is cached per minute of the clock.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = struct_time.tm_wday
_CLOCK_TIME = re.compile(r"^(\d\d):(\d\d)$")
_DAY_MINUTES = 24 * 60


class ScheduleError(ValueError):
    """A schedule that cannot be used; the message is the reason."""


def _minutes(text: str, key: str, *, allow_end_of_day: bool) -> int:
    match = _CLOCK_TIME.match(text)
    if match is None:
        raise ScheduleError(f"'{key}': '{text}' is not HH:MM")
    hours, minutes = int(match[1]), int(match[2])
    if allow_end_of_day and (hours, minutes) == (24, 0):
        return _DAY_MINUTES
    if hours > 23 or minutes > 59:
        raise ScheduleError(f"'{key}': '{text}' is not a time of day")
    return hours * 60 + minutes


class Schedule:
    """A parsed schedule; ``active(now)`` answers for an epoch time in seconds."""

    __slots__ = ("_cached", "_localtime", "days", "end", "start")

    def __init__(
        self,
        days: frozenset[int],
        start: int,
        end: int,
        localtime: Callable[[float], time.struct_time] = time.localtime,
    ) -> None:
        self.days = days  # weekday numbers, Monday = 0
        self.start = start  # minutes after midnight
        self.end = end
        self._localtime = localtime
        self._cached: tuple[int | None, bool] = (None, False)  # (clock minute, answer)

    def active(self, now: float) -> bool:
        minute = int(now // 60)
        cached_minute, answer = self._cached
        if minute != cached_minute:
            answer = self._compute(now)
            self._cached = (minute, answer)
        return answer

    def _compute(self, now: float) -> bool:
        moment = self._localtime(now)
        weekday, minute = moment.tm_wday, moment.tm_hour * 60 + moment.tm_min
        if self.start == self.end:
            return weekday in self.days
        if self.start < self.end:
            return weekday in self.days and self.start <= minute < self.end
        if minute >= self.start:
            return weekday in self.days
        return minute < self.end and (weekday - 1) % 7 in self.days


def parse_schedule(spec: dict[str, object]) -> Schedule:
    """Build a Schedule from its routing.json object (shape already checked by the schema)."""
    unknown = set(spec) - {"days", "from", "to"}
    if unknown:
        raise ScheduleError(f"unknown key(s) {', '.join(sorted(unknown))}")
    names = spec.get("days", DAY_NAMES)
    if not isinstance(names, list | tuple) or not names:
        raise ScheduleError("'days' must be a non-empty list of mon..sun")
    days: set[int] = set()
    for name in names:
        if name not in DAY_NAMES:
            raise ScheduleError(f"'days': unknown day {name!r} (use {', '.join(DAY_NAMES)})")
        days.add(DAY_NAMES.index(name))
    if ("from" in spec) != ("to" in spec):
        raise ScheduleError("'from' and 'to' go together")
    start, end = 0, 0
    if "from" in spec:
        start = _minutes(str(spec["from"]), "from", allow_end_of_day=False)
        end = _minutes(str(spec["to"]), "to", allow_end_of_day=True)
    return Schedule(frozenset(days), start, end)
