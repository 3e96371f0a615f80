"""Restart policy: exponential back-off with jitter, reset after stable uptime, and
giving up on a flapping instance. Pure arithmetic on monotonic times; no I/O (but
:meth:`RestartPolicy.from_config` reading the schema's defaults).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from edgeos.common.sections import section


@dataclass
class RestartPolicy:
    """Decides how long to wait before restarting a crashed instance, or to give up.

    The first crash after a stable run restarts at once (a kill -9 costs one spawn).
    Each further fast crash doubles the delay from ``base_s`` up to ``max_s``, with
    +-``jitter`` spread so many instances do not restart in lockstep. More than
    ``flap_max`` crashes within ``flap_window_s`` means flapping: give up (``None``).
    """

    base_s: float
    max_s: float
    stable_s: float
    flap_max: int
    flap_window_s: float
    jitter: float = 0.2  # not configurable
    _streak: int = field(default=0, init=False)
    _crashes: deque[float] = field(default_factory=deque, init=False)

    @classmethod
    def from_config(cls, restart: dict[str, Any] | None = None) -> RestartPolicy:
        """The policy of edgeos.json's ``restart`` section; the schema has the defaults."""
        return section(cls, "restart", restart)

    def on_crash(self, now: float, uptime: float, rand: float) -> float | None:
        """Record a crash at ``now`` after ``uptime`` s; the delay, or None to give up."""
        if uptime >= self.stable_s:
            self._streak = 0
            self._crashes.clear()
        self._crashes.append(now)
        while self._crashes and now - self._crashes[0] > self.flap_window_s:
            self._crashes.popleft()
        if len(self._crashes) > self.flap_max:
            return None
        self._streak += 1
        if self._streak == 1:
            return 0.0
        delay = min(self.max_s, self.base_s * 2 ** (self._streak - 2))
        return delay * (1 + self.jitter * (2 * rand - 1))

    def reset(self) -> None:
        """Forget the history (an admin started the instance by hand)."""
        self._streak = 0
        self._crashes.clear()
