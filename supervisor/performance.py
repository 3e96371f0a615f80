"""Performance profile: LOW_POWER, BALANCED or HIGH_PERFORMANCE.

Detected from CPU count, clock and RAM (a Pi Zero is LOW_POWER, a NAS BALANCED, a
desktop HIGH_PERFORMANCE); ``--performance`` or ``PERFORMANCE_PROFILE`` override it.
"""

from __future__ import annotations

import os

import psutil

PROFILES = ("LOW_POWER", "BALANCED", "HIGH_PERFORMANCE")


def detect() -> str:
    cpus = psutil.cpu_count() or 1
    ram_gb = psutil.virtual_memory().total / 2**30
    freq = psutil.cpu_freq()
    mhz = freq.max or freq.current if freq else 0
    if (cpus <= 2 and ram_gb < 2) or (mhz and mhz < 1200):
        return "LOW_POWER"
    if cpus >= 8 and ram_gb >= 8:
        return "HIGH_PERFORMANCE"
    return "BALANCED"


def choose(arg: str | None) -> str:
    """The flag, else the environment, else detection; raises ValueError on a bad name."""
    chosen = (arg or os.environ.get("PERFORMANCE_PROFILE") or "").upper() or detect()
    if chosen not in PROFILES:
        raise ValueError(f"performance profile {chosen!r}: expected one of "
                         f"{', '.join(PROFILES)}")
    return chosen
