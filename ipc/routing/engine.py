"""The router: turns one incoming datapoint into the commands it causes.

Pure and synchronous: the broker calls :meth:`Router.route` for every datapoint BEFORE it
stores the new value (so ``lookup(address)`` still returns the previous one, which is what
``old`` means in a condition) and sends the returned deliveries as commands (ack false).

Directions:

- forward: a reported value (ack true) on a route's ``from`` goes through schedule,
  condition (on the raw source value), then the transforms, to every target;
- reverse: a command (ack false) addressed to a target of a bidirectional route goes through
  schedule, the inverse transforms in reverse order, then the condition (which, as forward,
  sees the value in the units of ``from`` and ``old`` = last value of ``from``), to ``from``.

Loops: ``origin`` lists the addresses the value has already visited. Nothing is delivered
to an address in it or to the address the value is on, and a call whose origin is
``MAX_HOPS`` long or longer is dropped; both are counted in ``loops_stopped``. When the
broker feeds a delivery back in (e.g. to let a routed command flow on over bidirectional
routes), it passes ``origin + (address,)``.

Route errors (a condition or transform failing on a value) are counted and logged, never
raised: one bad route must not stop the others.

Values of any quality are routed; a route that cares says so (``quality == 'good'``).
Stateful transforms keep one state per route and source address, for as long as the route
keeps its definition (a wildcard route holds one per address it has seen).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from .addresses import CACHE_LIMIT
from .table import Route, RouteTable
from .transforms import SUPPRESS

log = logging.getLogger(__name__)

MAX_HOPS = 8
"""Longest origin chain accepted; a value that has visited this many addresses stops."""


class Delivery(NamedTuple):
    """A command the broker should send: ``value`` to ``target`` (ack false)."""

    target: str
    value: Any
    route_id: str


class _Counters:
    __slots__ = ("errors", "last_error", "last_refusal", "refused", "suppressed", "tally")

    def __init__(self) -> None:
        self.tally: list[Any] = [0, None]
        """[fired, last_fired_ts]: a list, so the broker's fast path (in C) updates it
        as cheaply as route() does."""
        self.suppressed = 0
        self.errors = 0
        self.last_error: str | None = None
        self.refused = 0
        self.last_refusal: str | None = None


class _Live:
    """A route with what the router keeps for it: counters and per-source-address state."""

    __slots__ = ("counters", "route", "simple", "stateless", "states")

    def __init__(self, route: Route, counters: _Counters, states: dict[str, list[Any]]) -> None:
        self.route = route
        self.counters = counters
        self.states = states  # source address -> one state per transform step
        self.simple = route.simple
        self.stateless = None if route.stateful else [None] * len(route.transforms)

    def states_for(self, address: str) -> list[Any]:
        """The state of each step for values from ``address``, created on first use."""
        if self.stateless is not None:
            return self.stateless
        states = self.states.get(address)
        if states is None:
            states = self.states[address] = [step.new_state() for step in self.route.transforms]
        return states

    def copy_of_states(self, address: str) -> list[Any]:
        """A private copy of :meth:`states_for`, for a dry run that must not change anything."""
        states = self.states.get(address)
        if states is None:
            return [step.new_state() for step in self.route.transforms]
        return copy.deepcopy(states)


class _Generation:
    """Everything :meth:`Router.swap` replaces, behind one reference so a swap is atomic."""

    __slots__ = ("forward", "live", "reverse", "table")

    def __init__(self, table: RouteTable, live: dict[str, _Live]) -> None:
        self.table = table
        self.live = live
        self.forward: dict[str, tuple[_Live, ...]] = {}  # address -> enabled routes, a cache
        self.reverse: dict[str, tuple[_Live, ...]] = {}
        for route in table.routes:
            if route.enabled and route.bidirectional:
                for target in route.targets:
                    self.reverse[target] = (*self.reverse.get(target, ()), live[route.id])


class _Failed(Exception):
    """A route error on this value; the message says where."""


class Router:
    """Routes datapoints through a RouteTable; see the module docstring for the rules."""

    def __init__(
        self,
        table: RouteTable,
        lookup: Callable[[str], Any | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lookup = lookup
        self._clock = clock
        self.loops_stopped = 0
        self._generation = _Generation(
            table, {r.id: _Live(r, _Counters(), {}) for r in table.routes}
        )

    @property
    def table(self) -> RouteTable:
        """The table in force."""
        return self._generation.table

    def swap(self, table: RouteTable) -> None:
        """Put ``table`` in force. Routes whose definition is unchanged (same id, same
        fingerprint) keep their counters and transform state; the match cache starts empty."""
        previous = self._generation.live
        live = {}
        for route in table.routes:
            kept = previous.get(route.id)
            if kept is not None and kept.route.fingerprint == route.fingerprint:
                live[route.id] = _Live(route, kept.counters, kept.states)
            else:
                live[route.id] = _Live(route, _Counters(), {})
        self._generation = _Generation(table, live)

    def counters(self) -> dict[str, dict[str, Any]]:
        """Per route id: fired, suppressed, errors, last_fired_ts (ts in ms of the value that
        fired last), last_error, refused (writes the target device refused) and
        last_refusal."""
        return {
            route_id: {
                "fired": live.counters.tally[0],
                "suppressed": live.counters.suppressed,
                "errors": live.counters.errors,
                "last_fired_ts": live.counters.tally[1],
                "last_error": live.counters.last_error,
                "refused": live.counters.refused,
                "last_refusal": live.counters.last_refusal,
            }
            for route_id, live in self._generation.live.items()
        }

    # ---- hot path --------------------------------------------------------------------------

    def route(
        self,
        address: str,
        value: Any,
        ts: int,
        quality: str,
        ack: bool,
        origin: tuple[str, ...] = (),
    ) -> list[Delivery]:
        """The commands caused by ``value`` arriving on ``address``, in route file order.

        A failing route is counted (``errors``) and skipped; nothing it does raises here.
        """
        generation = self._generation
        if len(origin) >= MAX_HOPS:
            self.loops_stopped += 1
            return []
        if not ack:
            lives = generation.reverse.get(address)
            if lives is None:
                return []
            return self._commands(lives, address, value, ts, quality, origin)
        lives = generation.forward.get(address)
        if lives is None:
            lives = self._match(generation, address)
        if not lives:
            return []
        deliveries: list[Delivery] = []
        for live in lives:
            if live.simple:
                self._deliver(live, live.route.targets, address, value, ts, origin, deliveries)
            else:
                self._forward(live, address, value, ts, quality, origin, deliveries)
        return deliveries

    def count_refusal(self, source: str, target: str, message: str) -> list[str]:
        """The device at ``target`` refused a command carrying a value from ``source``:
        count it on every route that delivers from one to the other; returns their ids."""
        generation = self._generation
        hit = [r.id for r in generation.table.forward_candidates(source) if target in r.targets]
        hit += [r.id for r in generation.table.reverse_candidates(source) if r.source == target]
        for route_id in hit:
            counters = generation.live[route_id].counters
            counters.refused += 1
            counters.last_refusal = message
        return hit

    def plain_targets(self, address: str) -> list[tuple[str, list[Any]]] | None:
        """What :meth:`route` would do with a reported value (ack true, no origin) on
        ``address`` when every matching route delivers it unchanged: ``(target, tally)``
        in file order. None when some route needs evaluating (transforms, condition,
        schedule) or targets ``address`` itself; then only :meth:`route` will do.

        A caller that delivers itself counts each firing as route() would, on every pair
        alike: ``tally[0] += 1; tally[1] = ts`` (fired, last_fired_ts). ``fired`` counts
        routes, not targets, so a route's second and later targets come with throwaway
        tallies. The answer holds until :meth:`swap`.
        """
        generation = self._generation
        lives = generation.forward.get(address)
        if lives is None:
            lives = self._match(generation, address)
        plain: list[tuple[str, list[Any]]] = []
        for live in lives:
            targets = live.route.targets
            if not live.simple or address in targets:
                return None
            plain += ((target, live.counters.tally if i == 0 else [0, None])
                      for i, target in enumerate(targets))
        return plain

    def _match(self, generation: _Generation, address: str) -> tuple[_Live, ...]:
        live = generation.live
        found = tuple(
            live[route.id]
            for route in generation.table.forward_candidates(address)
            if route.enabled
        )
        if len(generation.forward) >= CACHE_LIMIT:
            generation.forward.clear()
        generation.forward[address] = found
        return found

    def _forward(
        self,
        live: _Live,
        address: str,
        value: Any,
        ts: int,
        quality: str,
        origin: tuple[str, ...],
        deliveries: list[Delivery],
    ) -> None:
        route = live.route
        now = self._clock() if route.uses_clock else 0.0
        states = live.states_for(address)
        try:
            fired, value, _ = self._pass(route, states, address, value, ts, quality, now, None)
        except _Failed as failure:
            self._record_error(live, failure)
            return
        if fired:
            self._deliver(live, route.targets, address, value, ts, origin, deliveries)
        else:
            live.counters.suppressed += 1

    def _commands(
        self,
        lives: tuple[_Live, ...],
        address: str,
        value: Any,
        ts: int,
        quality: str,
        origin: tuple[str, ...],
    ) -> list[Delivery]:
        deliveries: list[Delivery] = []
        for live in lives:
            route = live.route
            now = self._clock() if route.uses_clock else 0.0
            try:
                fired, result, _ = self._reverse_pass(route, value, ts, quality, now, None)
            except _Failed as failure:
                self._record_error(live, failure)
                continue
            if fired:
                self._deliver(live, (route.source,), address, result, ts, origin, deliveries)
            else:
                live.counters.suppressed += 1
        return deliveries

    def _deliver(
        self,
        live: _Live,
        targets: tuple[str, ...],
        address: str,
        value: Any,
        ts: int,
        origin: tuple[str, ...],
        deliveries: list[Delivery],
    ) -> None:
        sent = False
        for target in targets:
            if target == address or target in origin:
                self.loops_stopped += 1
            else:
                deliveries.append(Delivery(target, value, live.route.id))
                sent = True
        if sent:
            tally = live.counters.tally
            tally[0] += 1
            tally[1] = ts

    @staticmethod
    def _record_error(live: _Live, failure: _Failed) -> None:
        counters = live.counters
        counters.errors += 1
        counters.last_error = str(failure)
        level = logging.WARNING if counters.errors == 1 else logging.DEBUG
        log.log(level, "route '%s': %s", live.route.id, failure)

    # ---- evaluation, shared by route() and dry_run() ---------------------------------------

    def _pass(self, route: Route, states: list[Any], address: str, value: Any, ts: int,
              quality: str, now: float, trace: list[dict[str, Any]] | None,
              ) -> tuple[bool, Any, str | None]:
        """Forward: (fired, value for the targets, reason if not fired); _Failed on error."""
        if route.schedule is not None and not route.schedule.active(now):
            return False, value, "outside schedule"
        if route.condition is not None and not self._condition(route, value, ts, quality, address):
            return False, value, "condition false"
        for step, state in zip(route.transforms, states, strict=True):
            try:
                value = step.apply(value, state, now)
            except Exception as exc:
                raise _Failed(f"transform '{step.text}': {exc}") from exc
            if value is SUPPRESS:
                return False, None, f"suppressed by {step.text}"
            if trace is not None:
                trace.append({"transform": step.text, "value": value})
        return True, value, None

    def _reverse_pass(self, route: Route, value: Any, ts: int, quality: str, now: float,
                      trace: list[dict[str, Any]] | None) -> tuple[bool, Any, str | None]:
        """Reverse: the same, through the inverse steps, condition last (in ``from`` units)."""
        if route.schedule is not None and not route.schedule.active(now):
            return False, value, "outside schedule"
        for step, undo in zip(reversed(route.transforms), route.inverse, strict=True):
            try:
                value = undo(value)
            except Exception as exc:
                raise _Failed(f"inverse of transform '{step.text}': {exc}") from exc
            if trace is not None:
                trace.append({"transform": f"inverse of {step.text}", "value": value})
        if route.condition is not None and not self._condition(
            route, value, ts, quality, route.source
        ):
            return False, value, "condition false"
        return True, value, None

    def _condition(self, route: Route, value: Any, ts: int, quality: str, address: str) -> bool:
        try:
            return bool(route.condition.evaluate(value, ts, quality, address, self._lookup))
        except Exception as exc:  # EvalError, or whatever lookup() raised
            raise _Failed(f"condition '{route.condition.text}': {exc}") from exc

    # ---- dry run ---------------------------------------------------------------------------

    def dry_run(self, address: str, value: Any, ack: bool = True) -> list[dict[str, Any]]:
        """What route() would do with ``value`` on ``address`` now, per candidate route
        (disabled ones included), without touching transform state, counters or loops_stopped.
        """
        generation = self._generation
        table = generation.table
        now = self._clock()
        ts, quality = int(now * 1000), "good"
        candidates = table.forward_candidates(address) if ack else table.reverse_candidates(address)
        report = []
        for route in candidates:
            entry: dict[str, Any] = {
                "route": route.id,
                "fired": False,
                "reason": None,
                "steps": [],
                "deliveries": [],
            }
            report.append(entry)
            if not route.enabled:
                entry["reason"] = "disabled"
                continue
            live = generation.live[route.id]
            try:
                if ack:
                    states = live.copy_of_states(address)
                    fired, result, reason = self._pass(
                        route, states, address, value, ts, quality, now, entry["steps"]
                    )
                else:
                    fired, result, reason = self._reverse_pass(
                        route, value, ts, quality, now, entry["steps"]
                    )
            except _Failed as failure:
                entry["reason"] = f"error: {failure}"
                continue
            if not fired:
                entry["reason"] = reason
                continue
            targets = route.targets if ack else (route.source,)
            entry["deliveries"] = [
                {"target": target, "value": result} for target in targets if target != address
            ]
            entry["fired"] = bool(entry["deliveries"])
            if not entry["fired"]:
                entry["reason"] = "loop: the only target is the source itself"
        return report
