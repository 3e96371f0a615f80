"""Which instances' ``figures`` rows the supervisor's 1 Hz pass publishes.

The historian keeps every instance's CPU, RAM and rates. Reading ``/proc`` for every
child and packing every row each second cost the idle supervisor more than all else
(issue 16). Children now send a heartbeat only when a rate moved or once per
``heartbeat_s`` (ipc/heartbeat.py), so a heartbeat between those beats is itself the
news. The pass therefore publishes

* every row once per ``FIGURES_EVERY_S`` period of the monotonic clock (aligned, like
  the children's steady beats, so both land in the same wake-up), and
* in the seconds between, only the rows of instances that said something (a
  heartbeat) or changed state since the last pass, reading ``/proc`` for those only;
* every row each second while someone watches the full ``stats`` (the admin UI's
  live view reads every process each second anyway).

A CPU or RAM change without a rate change is therefore recorded within
``FIGURES_EVERY_S``; the limits do not depend on it (the kernel or RamGuard enforce
them).
"""

from __future__ import annotations

import math

FIGURES_EVERY_S = 5.0  # every row at least this often (the default heartbeat_s)
EPSILON = 1e-6  # a pass a hair early still belongs to its nominal second


class FiguresPace:
    """Collects the instances that moved and says which rows a pass publishes (pure:
    the clock is passed in, unit tests move it by hand)."""

    def __init__(self, every_s: float = FIGURES_EVERY_S) -> None:
        self.every = every_s
        self.moved: set[str] = set()
        self._period: int | None = None

    def touch(self, instance_id: str) -> None:
        """``instance_id`` sent a heartbeat or changed state: publish its row next pass."""
        self.moved.add(instance_id)

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
