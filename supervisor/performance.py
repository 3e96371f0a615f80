"""Performance profile: LOW_POWER, BALANCED or HIGH_PERFORMANCE.

Detected from the board, CPU count, clock and RAM (a Pi Zero or less than 1 GB is
LOW_POWER, a NAS BALANCED, a desktop HIGH_PERFORMANCE); ``--performance`` (or
``--low-power``) or ``PERFORMANCE_PROFILE`` override it. What LOW_POWER changes:
:mod:`edgeos.supervisor.low_power`.
"""

from __future__ import annotations

import os
from pathlib import Path

PROFILES = ("LOW_POWER", "BALANCED", "HIGH_PERFORMANCE")


MODEL_FILE = Path("/proc/device-tree/model")
MAX_FREQ_FILE = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")  # kHz
CPUINFO = Path("/proc/cpuinfo")


def is_pi_zero(model_file: Path = MODEL_FILE) -> bool:
    """A Raspberry Pi Zero (its device tree names the board)."""
    try:
        return "Pi Zero" in model_file.read_text("ascii", errors="replace")
    except OSError:
        return False


def max_mhz(freq_file: Path = MAX_FREQ_FILE, cpuinfo: Path = CPUINFO) -> float:
    """The CPU's top clock from sysfs, else its current one from /proc/cpuinfo (a VM
    has no cpufreq), 0 if unknown: what ``psutil.cpu_freq()`` max-or-current gave.
    Read here, not through psutil: importing psutil costs the supervisor ~1 MB of RSS
    for the rest of its life, and this runs once at start (issue 16)."""
    try:
        return int(freq_file.read_text("ascii")) / 1000
    except (OSError, ValueError):
        pass
    try:
        for line in cpuinfo.read_text("ascii", errors="replace").splitlines():
            if line.startswith("cpu MHz"):
                return float(line.partition(":")[2])
    except (OSError, ValueError):
        pass
    return 0.0


def detect() -> str:
    cpus = os.cpu_count() or 1
    ram_gb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    mhz = max_mhz()
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
