"""Read a burst of steady heartbeats in one wake-up, just before the pass needs them.

The children's steady beats are aligned on the monotonic clock (ipc/child.py), yet on a
loaded host the niced children reach the supervisor one by one over tens of ms: each
one a cold wake-up of the supervisor's event loop (~0.35 ms here), 7-14 wake-ups per
burst of 23 beats at load 20, when the pass that looks at them runs 0.25 s after the
burst anyway (``STATS_PHASE_S``). So when a read of the worker channel found only
steady beats (no news: no HELLO, READY, ERROR, EVENT, no moved rate) and the pass is
at most :data:`HOLD_MAX_S` away, the supervisor stops watching the channel until the
pass; the pass (or a timer due at the same instant) reads everything that came
meanwhile first. Never while a child is starting (its HELLO and READY are the restart
latency) and it ends at once when a process is spawned. An ERROR or EVENT that comes
during a hold waits at most :data:`HOLD_MAX_S`; the watchdog loses nothing (the pass
reads the beats before it looks at their ages).
"""

from __future__ import annotations

from collections.abc import Callable

from edgeos.supervisor.seam import System, Timer

HOLD_MAX_S = 0.3  # a burst's pass is STATS_PHASE_S (0.25 s) after its aligned beats


class BeatHold:
    """Whether the worker channel is watched (pure: the clock and the fd are behind the
    ``System`` seam and the two callbacks, unit tests drive them by hand)."""

    def __init__(self, system: System, watch: Callable[[], None],
                 unwatch: Callable[[], None]) -> None:
        self.sys = system
        self._watch = watch  # watch the channel again and read what came meanwhile
        self._unwatch = unwatch
        self.held = False
        self._timer: Timer | None = None

    def after_read(self, quiet: bool, pass_in: float, starting: bool) -> None:
        """A read of the channel ended: hold it until the pass ``pass_in`` s away if the
        read was ``quiet`` (steady beats only), the pass is near, nobody is starting."""
        if self.held or not quiet or starting or not 0 < pass_in <= HOLD_MAX_S:
            return
        self._unwatch()
        self.held = True
        self._timer = self.sys.call_later(pass_in, self.release)

    def release(self) -> None:
        """Watch the channel again (and read it); nothing if it is not held."""
        if not self.held:
            return
        self.cancel()
        self._watch()

    def cancel(self) -> None:
        """Forget the hold without watching again (the channel is being closed)."""
        self.held = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
