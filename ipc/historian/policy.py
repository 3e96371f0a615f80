"""Which changes are worth a row: type filter, per-pattern rules, deadband, minimum interval.

A chatty source cannot fill the disk: a value within the deadband of the last accepted
one is dropped, and a datapoint is written at most once per minimum interval. The
minimum interval holds back the *latest* value and writes it when the interval is over
(:meth:`Policy.due`), so the last state of a datapoint is always on record (a switch
turned on and off within the interval still ends as off).
"""

from __future__ import annotations

import math
from typing import Any

from edgeos.ipc.historian.settings import Rule, Settings
from edgeos.ipc.routing.patterns import PatternIndex

NOT_RECORDED = None


def as_number(value: Any) -> float | None:
    """Numbers and booleans as floats (true = 1.0); anything else is not recorded."""
    if value is True:
        return 1.0
    if value is False:
        return 0.0
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


class Track:
    """One recorded datapoint: its series, the last written point and a held-back one."""

    __slots__ = ("held", "last_ts", "last_value", "rule", "series")

    def __init__(self, series: int, rule: Rule) -> None:
        self.series = series
        self.rule = rule
        self.last_ts = -(2**62)
        self.last_value: float | None = None
        self.held: tuple[int, float] | None = None


class Policy:
    """Turns change items into rows ``(series, ts, value)``; counts what it drops."""

    def __init__(self, settings: Settings, series_id: Any) -> None:
        """``series_id(name)`` returns the store's id for a series (creating it)."""
        self.settings = settings
        self.series_id = series_id
        rules = settings.points
        self.index = PatternIndex((n, p["match"]) for n, p in enumerate(rules))
        self.tracks: dict[str, Track | None] = {}
        self.waiting: dict[str, Track] = {}
        self.recorded = 0  # tracks that record (the cache also remembers what does not)
        self.counters = {"changes": 0, "filtered": 0, "not_numeric": 0, "series_refused": 0}

    def _rule(self, address: str) -> Rule | None:
        found = self.index.match(address)
        if found:
            return self.settings.rule_for(self.settings.points[found[0]])
        return self.settings.default_rule()

    def _track(self, address: str) -> Track | None:
        rule = self._rule(address)
        if rule is None:
            return NOT_RECORDED
        if self.recorded >= self.settings.max_series:
            self.counters["series_refused"] += 1
            return NOT_RECORDED
        self.recorded += 1
        return Track(self.series_id(address), rule)

    def accept(self, prefix: str, batch: Any, rows: list[tuple[int, int, float]]) -> None:
        """Append the rows a change batch (items ``[path, value, ts, ...]``) yields."""
        tracks = self.tracks
        counters = self.counters
        counters["changes"] += len(batch)
        for item in batch:
            try:
                address = prefix + item[0]
                ts = int(item[2])
            except (IndexError, TypeError, ValueError):
                counters["filtered"] += 1
                continue
            track = tracks.get(address, self)  # self: unknown yet
            if track is self:
                if len(tracks) >= 4 * self.settings.max_series:  # bound the not-recorded cache
                    self.forget_series()
                track = tracks[address] = self._track(address)
            if track is None:
                counters["filtered"] += 1
                continue
            value = as_number(item[1])
            if value is None:
                counters["not_numeric"] += 1
                continue
            reference = track.held[1] if track.held is not None else track.last_value
            if reference is not None and abs(value - reference) <= track.rule.deadband:
                counters["filtered"] += 1
                continue
            if ts - track.last_ts >= track.rule.min_interval_ms:
                track.last_ts, track.last_value, track.held = ts, value, None
                self.waiting.pop(address, None)
                rows.append((track.series, ts, value))
            else:
                if track.held is not None:
                    counters["filtered"] += 1  # the earlier held value is superseded
                track.held = (ts, value)
                self.waiting[address] = track

    def due(self, now_ms: int, rows: list[tuple[int, int, float]]) -> None:
        """Write held-back values whose minimum interval is over."""
        for address, track in list(self.waiting.items()):
            held = track.held
            if held is None:
                del self.waiting[address]
            elif now_ms - track.last_ts >= track.rule.min_interval_ms:
                track.last_ts, track.last_value, track.held = held[0], held[1], None
                rows.append((track.series, held[0], held[1]))
                del self.waiting[address]

    def flush_all(self, rows: list[tuple[int, int, float]]) -> None:
        """At shutdown: everything held back is written."""
        self.due(2**62, rows)

    def forget_series(self) -> None:
        """Start the tracks over (after a fresh database, or when the cache is full)."""
        self.tracks.clear()
        self.waiting.clear()
        self.recorded = 0
