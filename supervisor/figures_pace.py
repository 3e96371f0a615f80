"""Which instances' ``figures`` rows the supervisor's 1 Hz pass publishes.

The historian keeps every instance's CPU, RAM and rates. Reading ``/proc`` for every
child and packing every row each second cost the idle supervisor more than all else
(issue 16). Children now send a heartbeat only when a rate moved or once per
``heartbeat_s`` (ipc/heartbeat.py), so a heartbeat between those beats is itself the
news. The pass therefore publishes

* every row once per ``FIGURES_EVERY_S`` period of the monotonic clock (aligned, like
  the children's steady beats, so both land in the same wake-up), and
* in the seconds between, only the rows of instances whose heartbeat brought news
  (counters that moved, ipc/heartbeat.py ``moved``: a steady once-per-period beat does
  not count, its row goes with the full pass even when it arrives a little late),
  reading ``/proc`` for those only;
* every row each second while someone watches the full ``stats`` (the admin UI's
  live view reads every process each second anyway).

A CPU or RAM change without a rate change is therefore recorded within
``FIGURES_EVERY_S`` (15 s: the full pass and its 22 ``/proc`` reads were most of what
the idle supervisor did, docs/idle-pacing.md round 8); the limits do not depend on it
(the kernel or RamGuard enforce them).

Nor does the pass itself run each second when there is nothing to do: it sleeps
until the next full pass or the first watchdog deadline (:class:`PassClock`), and the
first heartbeat after a pass cuts that sleep short to the next whole second.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

from edgeos.supervisor.seam import System, Timer

#: every row at least this often while nobody watches the full ``stats``: three default
#: ``heartbeat_s`` periods (the full pass falls into a burst of aligned beats). A moved
#: rate still goes out within a second; what waits is a CPU or RAM change without one
FIGURES_EVERY_S = 15.0
EPSILON = 1e-6  # a pass a hair early still belongs to its nominal second


class FiguresPace:
    """Collects the instances that moved and says which rows a pass publishes (pure:
    the clock is passed in, unit tests move it by hand)."""

    def __init__(self, every_s: float = FIGURES_EVERY_S) -> None:
        self.every = every_s
        self.moved: set[str] = set()
        self._period: int | None = None

    def touch(self, instance_id: str) -> bool:
        """``instance_id`` sent a heartbeat: publish its row next pass. True for the
        first news since the last pass (the caller then wakes the pass)."""
        first = not self.moved
        self.moved.add(instance_id)
        return first

    def rows(self, now: float, watched: bool) -> set[str] | None:
        """The ids whose rows the pass at ``now`` publishes: None for every row (the
        period's full pass, or someone watches), else the moved ones (maybe none).
        Either way the moved set starts afresh."""
        period = math.floor(round(now) / self.every + EPSILON)
        moved, self.moved = self.moved, set()
        if watched or period != self._period:
            self._period = period
            return None
        return moved


class PassClock:
    """The stats pass's sleep: until a time chosen by the pass, or sooner when
    :meth:`hurry` asks (a heartbeat with news); one timer, no task per wake-up."""

    def __init__(self, system: System) -> None:
        self.sys = system
        self._due = math.inf  # monotonic time the current sleep ends
        self._wake: asyncio.Future[None] | None = None
        self._timer: Timer | None = None

    async def sleep(self, delay: float) -> None:
        """Sleep ``delay`` seconds at most."""
        self._wake = asyncio.get_running_loop().create_future()
        self._arm(delay)
        try:
            await self._wake
        finally:
            self._due, self._wake = math.inf, None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def left(self) -> float:
        """Seconds until the current sleep ends (inf when nobody sleeps)."""
        return self._due - self.sys.monotonic()

    def hurry(self, delay: Callable[[float], float]) -> None:
        """End the sleep ``delay(now)`` seconds from now if that is sooner (cheap when
        it is not: the pass is already near, or nobody sleeps)."""
        if self._wake is None:
            return
        now = self.sys.monotonic()
        if now + delay(now) < self._due:
            self._arm(delay(now))

    def _arm(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._due = self.sys.monotonic() + delay
        self._timer = self.sys.call_later(delay, self._ring)

    def _ring(self) -> None:
        self._timer = None
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)
