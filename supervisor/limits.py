"""Enforcement of per-instance limits by sampling: the fallback where no cgroup can
be made (see :mod:`edgeos.supervisor.cgroups` for the kernel path, which replaces both
of these for the instances it holds).

* RAM: ``max_ram_mb`` — RSS sampled adaptively: every 0.25 s near the limit, up to
  every ``RAM_MAX_PERIOD_S`` when far from it (the headroom divided by the fastest
  growth we mean to catch); an event at 80 %, kill and restart (with back-off) at 100 %.
* CPU: ``max_cpu_share`` (percent of one core) — SIGSTOP/SIGCONT duty cycling driven
  by the CPU time the process really used. A token bucket holding ``BURST_S`` seconds
  of budget lets brief spikes through; only sustained use beyond the share is throttled.

All readings and signals go through the :class:`~edgeos.supervisor.seam.System` seam.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass

from edgeos.supervisor.process import Instance
from edgeos.supervisor.seam import System

log = logging.getLogger(__name__)

RAM_WARN = 0.8
RAM_REARM = 0.7
RAM_PERIOD_S = 0.25  # the fastest sampling, close to the limit
RAM_MAX_PERIOD_S = 2.0  # the slowest, far from it
RAM_GROWTH_MB_S = 100.0  # a leak this fast is still caught before it passes the mark
CPU_PERIOD_S = 0.1
BURST_S = 1.0  # seconds at the full share a worker may spend in a spike


@dataclass
class RamState:
    warned: bool = False


class RamGuard:
    """Samples the RSS of capped instances and escalates (event, then kill)."""

    def __init__(self, system: System, on_event: Callable[[Instance, str, str], None]) -> None:
        self.sys = system
        self.on_event = on_event
        self._state: dict[str, RamState] = {}

    def check(self, inst: Instance) -> float:
        """Sample once, escalate if needed; returns the seconds until the next sample."""
        cap = inst.cfg.limits.get("max_ram_mb")
        if inst.pid is None or not cap:
            return RAM_MAX_PERIOD_S
        rss = self.sys.rss_mb(inst.pid)
        if rss is None:
            return RAM_PERIOD_S
        state = self._state.setdefault(inst.id, RamState())
        ratio = rss / float(cap)
        self._escalate(inst, state, rss, ratio, cap)
        mark = float(cap) * (1.0 if state.warned else RAM_WARN)
        return min(RAM_MAX_PERIOD_S, max(RAM_PERIOD_S, (mark - rss) / RAM_GROWTH_MB_S))

    def _escalate(self, inst: Instance, state: RamState, rss: float, ratio: float,
                  cap: float) -> None:
        if ratio >= 1.0:
            msg = f"RAM limit exceeded: {rss:.1f} MB RSS > max_ram_mb {cap} MB; killed"
            self.on_event(inst, "ram_exceeded", msg)
            inst.on_error(msg)
            inst.kill(msg, restart=True)
            state.warned = False
            return
        elif ratio >= RAM_WARN and not state.warned:
            state.warned = True
            self.on_event(inst, "ram_warning",
                          f"RAM at {ratio:.0%} of its limit: {rss:.1f} of {cap} MB")
        elif ratio < RAM_REARM:
            state.warned = False


class CpuThrottle:
    """Duty-cycles one process with SIGSTOP/SIGCONT so it averages ``share`` % of a core."""

    def __init__(self, system: System, inst: Instance, share: float) -> None:
        self.sys = system
        self.inst = inst
        self.rate = share / 100.0  # CPU seconds allowed per wall second
        self.tokens = self.rate * BURST_S
        self.pid = inst.pid
        self.last_cpu = system.cpu_seconds(inst.pid) if inst.pid else None
        self.last_t = system.monotonic()
        self.stopped = False
        self.throttled_s = 0.0

    def step(self) -> float:
        """Account CPU used since the last step; returns how long to wait until the next.

        While over budget the process is stopped for exactly the time it takes the
        budget to refill, then continued.
        """
        if self.inst.pid != self.pid or self.pid is None:
            return CPU_PERIOD_S
        now = self.sys.monotonic()
        cpu = self.sys.cpu_seconds(self.pid)
        if cpu is None or self.last_cpu is None:
            return CPU_PERIOD_S
        used = cpu - self.last_cpu
        self.tokens = min(self.rate * BURST_S, self.tokens + self.rate * (now - self.last_t) - used)
        self.last_cpu, self.last_t = cpu, now
        if self.tokens < -1e-6:  # (float noise around zero is not debt)
            pause = max(0.01, min(1.0, -self.tokens / self.rate))
            if not self.stopped:
                self.sys.signal(self.pid, signal.SIGSTOP)
                self.stopped = True
            self.throttled_s += pause
            return pause
        self.release()
        return CPU_PERIOD_S

    def release(self) -> None:
        """Let the process run (always before it is stopped or killed)."""
        if self.stopped and self.pid is not None:
            self.sys.signal(self.pid, signal.SIGCONT)
        self.stopped = False
