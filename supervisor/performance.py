"""Performance profile: LOW_POWER, BALANCED or HIGH_PERFORMANCE.

Detected from the board, CPU count, clock and RAM (a Pi Zero or less than 1 GB is
LOW_POWER, a NAS BALANCED, a desktop HIGH_PERFORMANCE); ``--performance`` (or
``--low-power``) or ``PERFORMANCE_PROFILE`` override it. What LOW_POWER changes:
:mod:`edgeos.supervisor.low_power`.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil

PROFILES = ("LOW_POWER", "BALANCED", "HIGH_PERFORMANCE")


MODEL_FILE = Path("/proc/device-tree/model")


def is_pi_zero(model_file: Path = MODEL_FILE) -> bool:
    """A Raspberry Pi Zero (its device tree names the board)."""
    try:
        return "Pi Zero" in model_file.read_text("ascii", errors="replace")
    except OSError:
        return False


def detect() -> str:
    cpus = psutil.cpu_count() or 1
    ram_gb = psutil.virtual_memory().total / 2**30
    freq = psutil.cpu_freq()
    mhz = freq.max or freq.current if freq else 0
    if ram_gb < 1 or is_pi_zero() or (cpus <= 2 and ram_gb < 2) or (mhz and mhz < 1200):
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
