"""A circuit breaker: stop hammering a device that does not answer.

After ``threshold`` failed bus turns in a row the breaker opens: no requests for
``open_s``. Then one probe turn is let through (half open); if it fails too the wait
doubles, up to ``max_open_s``; the first success closes the breaker and resets the
wait. An unreachable device on a shared RS485 line thus costs the other devices on
that line one timeout per back-off period instead of one per poll.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class CircuitBreaker:
    """Closed, open or half open, driven by the outcome of each bus turn."""

    def __init__(self, threshold: int = 3, open_s: float = 5.0, max_open_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if threshold < 1:
            raise ValueError(f"breaker threshold {threshold}: must be at least 1")
        self.threshold = threshold
        self.open_s = open_s
        self.max_open_s = max(max_open_s, open_s)
        self.clock = clock
        self.failures = 0  # failed turns in a row
        self.opened = 0  # how often it opened, for stats
        self._wait = open_s
        self._retry_at: float | None = None

    @property
    def state(self) -> str:
        if self._retry_at is None:
            return "closed"
        return "half_open" if self.clock() >= self._retry_at else "open"

    @property
    def retry_at(self) -> float | None:
        """The clock time of the next probe; None while closed."""
        return self._retry_at

    def allow(self) -> bool:
        """May a turn go to the device now?"""
        return self.state != "open"

    def retry_in(self) -> float:
        """Seconds until the next probe (0 while requests may go out)."""
        if self._retry_at is None:
            return 0.0
        return max(0.0, self._retry_at - self.clock())

    def record_success(self) -> None:
        self.failures = 0
        self._wait = self.open_s
        self._retry_at = None

    def record_failure(self) -> None:
        """A failed turn: opens the breaker at the threshold, or again after a probe."""
        self.failures += 1
        if self._retry_at is not None:  # the probe failed: wait longer
            self._wait = min(self._wait * 2, self.max_open_s)
        elif self.failures < self.threshold:
            return
        self._retry_at = self.clock() + self._wait
        self.opened += 1
