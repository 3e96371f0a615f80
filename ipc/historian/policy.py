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
    """One recorded datapoint: its series, the last written point and a held-back one
    (the rule's figures are copied in: the ingest loop reads them per change)."""

    __slots__ = ("address", "deadband", "held", "interval", "last_ts", "last_value", "series")

    def __init__(self, address: str, series: int, rule: Rule) -> None:
        self.address = address
        self.series = series
        self.deadband = rule.deadband
        self.interval = rule.min_interval_ms
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
        # per change prefix (an instance), path -> track (None: not recorded): the
        # address is put together only the first time a datapoint is seen
        self.tracks: dict[str, dict[str, Track | None]] = {}
        self.known = 0  # entries in all of ``tracks`` (bounded)
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
        return Track(address, self.series_id(address), rule)

    def _learn(self, prefix: str, path: str) -> Track | None:
        """The first change of a datapoint: decide once whether and how it is recorded."""
        if type(path) is not str:
            return NOT_RECORDED  # a malformed item: counted as filtered, not remembered
        if self.known >= 4 * self.settings.max_series:  # bound the not-recorded cache
            self.forget_series()
        self.known += 1
        track = self._track(prefix + path)
        self.tracks.setdefault(prefix, {})[path] = track
        return track

    def accept(self, prefix: str, batch: Any, rows: list[tuple[int, int, float]]) -> None:
        """Append the rows a change batch (items ``[path, value, ts, ...]``) yields.

        The per-change cost decides the ingest rate: one dict lookup, a type test,
        two comparisons and an append for a value that is recorded."""
        tracks = self.tracks.get(prefix)
        if tracks is None:
            tracks = self.tracks[prefix] = {}
        counters = self.counters
        counters["changes"] += len(batch)
        filtered = not_numeric = 0
        append = rows.append
        for item in batch:
            try:
                path, value, ts = item[0], item[1], item[2]
                track = tracks[path]
            except KeyError:
                track = self._learn(prefix, path)
                tracks = self.tracks[prefix]  # forget_series() may have started over
            except (IndexError, TypeError):
                filtered += 1
                continue
            if track is None:
                filtered += 1
                continue
            kind = type(value)
            if kind is float:
                if value - value != 0.0:  # inf, nan
                    not_numeric += 1
                    continue
            elif kind is bool:
                value = 1.0 if value else 0.0
            elif kind is int:
                value = float(value)
            else:
                number = as_number(value)  # a subclass, or not a number at all
                if number is None:
                    not_numeric += 1
                    continue
                value = number
            if type(ts) is not int:
                try:
                    ts = int(ts)
                except (TypeError, ValueError, OverflowError):
                    filtered += 1
                    continue
            held = track.held
            reference = held[1] if held is not None else track.last_value
            if reference is not None and abs(value - reference) <= track.deadband:
                filtered += 1
                continue
            if ts - track.last_ts >= track.interval:
                track.last_ts = ts
                track.last_value = value
                if held is not None:
                    track.held = None
                    self.waiting.pop(track.address, None)
                append((track.series, ts, value))
            else:
                if held is not None:
                    filtered += 1  # the earlier held value is superseded
                track.held = (ts, value)
                self.waiting[track.address] = track
        counters["filtered"] += filtered
        counters["not_numeric"] += not_numeric

    def due(self, now_ms: int, rows: list[tuple[int, int, float]]) -> None:
        """Write held-back values whose minimum interval is over."""
        for address, track in list(self.waiting.items()):
            held = track.held
            if held is None:
                del self.waiting[address]
            elif now_ms - track.last_ts >= track.interval:
                track.last_ts, track.last_value, track.held = held[0], held[1], None
                rows.append((track.series, held[0], held[1]))
                del self.waiting[address]

    def flush_all(self, rows: list[tuple[int, int, float]]) -> None:
        """At shutdown: everything held back is written."""
        self.due(2**62, rows)

    def forget_series(self) -> None:
        """Start the tracks over (after a fresh database, or when the cache is full)."""
        self.tracks.clear()
        self.known = 0
        self.waiting.clear()
        self.recorded = 0
