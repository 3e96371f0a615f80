"""When a child sends its heartbeat: when its figures moved, else once per period.

A heartbeat is both the watchdog's proof of life and the carrier of the child's
counters (the rates and bus figures the admin UI shows live, the rates the historian
records). Sending it every second whatever happened made the idle supervisor wake and
read a message per child per second (issue 16). The child still looks at its counters
every ``InstanceSpec.heartbeat_interval`` (at most 1 s) but sends them only

* when they *moved* since the last sent ones (:func:`moved`): any text, flag or key
  that changed (``connected``, a state, ``last_error``), or a number that left the
  :data:`DEADBAND` (10 %) around the value last sent (queue lengths and the
  totals, :data:`RIDE_ALONG`, excepted); so a live view and the
  historian see a new rate or a new connection state within a second, while the
  jitter of a rate measured over one second (a few %) sends nothing; or
* at the first look in each new ``heartbeat_s`` period of the monotonic clock (the
  watchdog's norm: a beat every timeout / 3, as the timeout is ``3 x heartbeat_s``).
  The periods are aligned on the clock every process shares, so the steady
  children's beats reach the supervisor together and it wakes once for them.

So a figure shown or recorded is within 10 % of the child's own for at most
``heartbeat_s`` (the totals ``in_total``/``out_total`` and queue lengths lag that
long while the rates hold).
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


def moved(sent: Any, now: Any) -> bool:
    """Whether ``now`` differs from ``sent`` by more than the deadband: numbers
    relatively, dicts and lists item by item, anything else when unequal."""
    if isinstance(sent, dict) and isinstance(now, dict):
        return sent.keys() != now.keys() or any(moved(sent[k], now[k]) for k in now
                                                if k not in RIDE_ALONG)
    if isinstance(sent, list | tuple) and isinstance(now, list | tuple):
        return len(sent) != len(now) or any(moved(a, b) for a, b in zip(sent, now,
                                                                          strict=True))
    if _number(sent) and _number(now):
        return abs(now - sent) > DEADBAND * max(abs(now), abs(sent))
    return bool(sent != now)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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

    def __init__(self, interval: float, heartbeat_s: float) -> None:
        self.interval = interval  # how often the child looks at its counters
        self.every = max(float(heartbeat_s), interval)  # the beat without any change
        self._sent: Any = None
        self._period: int | None = None

    def due(self, now: float, counters: dict[str, Any]) -> bool:
        """True if ``counters`` (looked at ``now``, monotonic s) must be sent now."""
        tick = round(now / self.interval) * self.interval  # the look's nominal instant
        period = math.floor(tick / self.every + EPSILON)
        if period == self._period and not moved(self._sent, counters):
            return False
        self._sent, self._period = snapshot(counters), period
        return True
