"""When a child sends its heartbeat: when its figures moved, else once per period.

A heartbeat is both the watchdog's proof of life and the carrier of the child's
counters (the rates and bus figures the admin UI shows live, the rates the historian
records). Sending it every second whatever happened made the idle supervisor wake and
read a message per child per second (issue 16). The child still looks at its counters
every ``InstanceSpec.heartbeat_interval`` (at most 1 s) but sends them only

* when they *moved* since the last sent ones (:func:`moved`): any text, flag or key
  that changed (``connected``, a state, ``last_error``), a count (an int: errors,
  datapoints) or a measured figure (a float: the rates) that left the
  :data:`DEADBAND` (10 %) around the value last sent (queue lengths and the
  totals, :data:`RIDE_ALONG`, excepted). A float must stay out on the same side for
  two looks in a row: a rate measured over one second doubles for a second and drops
  to nothing the next when one tick of the child comes late (on a loaded host, or with
  a source slower than 1 Hz, every few seconds), which is no news. So a live view and
  the historian see a new connection state or error at once and a new rate within two
  seconds, while the jitter sends nothing; or
* at the first look in each new ``heartbeat_s`` period of the monotonic clock (the
  watchdog's norm: a beat every timeout / 3, as the timeout is ``3 x heartbeat_s``).
  The periods are aligned on the clock every process shares, so the steady
  children's beats reach the supervisor together and it wakes once for them.

So a figure shown or recorded is within 10 % of the child's own for at most
``heartbeat_s`` (the totals ``in_total``/``out_total`` and queue lengths lag that
long while the rates hold).

A child with more totals than those (the broker's datapoints and drains in ``bus``,
the historian's changes and rows recorded) names them (``ride_along``): a total grows
with every message, and compared like an error count it made the idle broker and
historian beat every second or two for the first minutes of a daemon (until the 10 %
deadband around a large total spaced the beats out), each beat one more wake-up of the
supervisor. Its rates (``pps_in``, ``pps_out``) carry the news that the traffic changed.
"""

from __future__ import annotations

import math
from typing import Any

DEADBAND = 0.1  # relative: a rate measured over a second jitters by a few % under load
EPSILON = 1e-6  # a look a hair before its nominal tick still counts for that tick
# ride along with a beat but never cause one: momentary queue lengths (a worker's
# outbox, the historian's rows before a flush) swing within each second, and the
# totals grow whenever the rate (which is compared) is not zero
RIDE_ALONG = frozenset({"queued", "pending", "in_total", "out_total"})


ANY = object()  # ``before`` of a single look: a float counts as soon as it moved


def moved(sent: Any, now: Any, before: Any = ANY, skip: frozenset[str] = RIDE_ALONG) -> bool:
    """Whether ``now`` differs from ``sent`` by more than the deadband: numbers
    relatively, dicts and lists item by item (a dict's keys in ``skip`` excepted, at
    any depth), anything else when unequal. With ``before`` (the previous look's
    counters) a float counts only if it was out of the deadband on the same side then
    too; with ``before=None``, floats never count."""
    if isinstance(sent, dict) and isinstance(now, dict):
        prior = before if isinstance(before, dict) else {}
        return sent.keys() != now.keys() or any(
            moved(sent[k], now[k], before if before is ANY else prior.get(k), skip)
            for k in now if k not in skip)
    if isinstance(sent, list | tuple) and isinstance(now, list | tuple):
        prior = before if isinstance(before, list) and len(before) == len(now) else \
            [None] * len(now)
        return len(sent) != len(now) or any(
            moved(a, b, before if before is ANY else c, skip)
            for a, b, c in zip(sent, now, prior, strict=True))
    if _number(sent) and _number(now):
        if before is not ANY and isinstance(now, float):
            return _number(before) and _side(sent, now) == _side(sent, before) != 0
        return _side(sent, now) != 0
    return bool(sent != now)


def _side(sent: float, now: float) -> int:
    """+1 above the deadband around ``sent``, -1 below it, 0 within."""
    if abs(now - sent) <= DEADBAND * max(abs(now), abs(sent)):
        return 0
    return 1 if now > sent else -1


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def steady(sent: Any, now: Any, before: Any, skip: frozenset[str] = RIDE_ALONG) -> Any:
    """``now`` with every float that left the deadband around ``sent`` at this look
    only (not on the same side at the ``before`` look too) put back to its ``sent``
    value; ``now`` itself when there is none. The period's beat carries this: a rate
    caught by that beat in its one-look jitter (a tick that came just after the look:
    0, then 12, then 6 again) would otherwise be news against itself a look later and
    cost the supervisor a beat, a wake-up and a pass for nothing."""
    if isinstance(sent, dict) and isinstance(now, dict):
        prior = before if isinstance(before, dict) else {}
        out = {k: v if k in skip or k not in sent else steady(sent[k], v, prior.get(k), skip)
               for k, v in now.items()}
        return now if all(out[k] is v for k, v in now.items()) else out
    if isinstance(now, float) and _number(sent) and (side := _side(sent, now)) != 0 and \
            not (_number(before) and _side(sent, before) == side):
        return sent
    return now


def snapshot(value: Any) -> Any:
    """A copy of the dicts and lists in ``value``: a worker's ``stats()`` may hand out
    a dict it keeps updating, which would otherwise always equal what was sent."""
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [snapshot(v) for v in value]
    return value


class BeatRule:
    """Decides, at each look, whether the counters are sent (pure: the clock is passed
    in, so unit tests move it by hand)."""

    def __init__(self, interval: float, heartbeat_s: float,
                 ride_along: frozenset[str] = frozenset()) -> None:
        self.interval = interval  # how often the child looks at its counters
        self.every = max(float(heartbeat_s), interval)  # the beat without any change
        self.skip = RIDE_ALONG | ride_along  # keys (at any depth) that never cause a beat
        self._sent: Any = None
        self._period: int | None = None
        self._before: Any = None  # the last look's counters, kept only when one moved
        #: the last beat was the period's with nothing moved: proof of life only (the
        #: child sends it where the supervisor reads it at its pass, not at once)
        self.steady = False

    def due(self, now: float, counters: dict[str, Any]) -> bool:
        """True if :meth:`beat` sends something at this look."""
        return self.beat(now, counters) is not None

    def beat(self, now: float, counters: dict[str, Any]) -> dict[str, Any] | None:
        """What to send of ``counters`` (looked at ``now``, monotonic s), None for
        nothing: all of them when they moved; at the period's first look (the beat
        the watchdog needs) them with any one-look jitter put back (:func:`steady`),
        and that jitter is news at the next look only if it holds."""
        tick = round(now / self.interval) * self.interval  # the look's nominal instant
        period = math.floor(tick / self.every + EPSILON)
        if period == self._period:
            if not moved(self._sent, counters, skip=self.skip):
                self._before = None
                return None
            if not moved(self._sent, counters, self._before, self.skip):  # a float moved: hold on
                self._before = snapshot(counters)  # to see whether the next look agrees
                return None
            sent, self.steady = counters, False
        else:  # the period's beat
            sent = counters if self._sent is None else \
                steady(self._sent, counters, self._before, self.skip)
            self.steady = self._sent is not None and not moved(self._sent, sent, skip=self.skip)
        self._period = period
        self._before = None if sent is counters else snapshot(counters)  # (jitter put back)
        self._sent = snapshot(sent)
        return sent
