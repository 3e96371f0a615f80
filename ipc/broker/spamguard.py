"""Spam guard: packets per second per source instance against its ``max_pps``.

A source above its limit for ``sustain_s`` consecutive seconds is suspended: the
broker drops its traffic (counted) and tells the supervisor, which stops it. Brief
bursts are tolerated.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class SpamGuard:
    sustain_s: int = 3
    default_limit: float = 500.0
    limits: dict[str, float] = field(default_factory=dict)
    counts: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    rates: dict[str, float] = field(default_factory=dict)
    over: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    suspended: dict[str, float] = field(default_factory=dict)

    def tick(self, elapsed: float) -> list[tuple[str, float, float]]:
        """Close a one-second window; returns newly suspended ``(id, pps, limit)``."""
        fresh = []
        counts, self.counts = self.counts, defaultdict(int)
        self.rates = {iid: n / elapsed for iid, n in counts.items()}
        for iid in list(self.over):
            if iid not in counts:
                del self.over[iid]
        for iid, pps in self.rates.items():
            limit = self.limits.get(iid, self.default_limit)
            if pps > limit and iid not in self.suspended:
                self.over[iid] += 1
                if self.over[iid] >= self.sustain_s:
                    self.suspended[iid] = pps
                    fresh.append((iid, pps, limit))
            else:
                self.over.pop(iid, None)
        return fresh

    def reactivate(self, iid: str) -> None:
        self.suspended.pop(iid, None)
        self.over.pop(iid, None)
