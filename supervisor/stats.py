"""What the supervisor measures of each child itself, from /proc through the seam.

This runs once a second for every child (the live figures and the 1 s instance history
of the historian), so it is kept to one ``pread`` of ``/proc/<pid>/stat`` per child:
the disk I/O counters (a second file) only every ``IO_EVERY_S``, and no psutil objects.
"""

from __future__ import annotations

import os
from typing import Any

from edgeos.supervisor.seam import System

MB = 1024 * 1024
IO_EVERY_S = 10.0  # disk I/O totals change slowly: read them this often per child


class Sampler:
    """Per-process figures from /proc through the seam; CPU percent between samples."""

    def __init__(self, system: System) -> None:
        self.sys = system
        self.total_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / MB
        # pid -> [monotonic, cpu seconds, read MB, write MB, when to read io next]
        self._last: dict[int, list[Any]] = {}

    def sample(self, pid: int, io: bool = True) -> dict[str, Any]:
        """The figures of ``pid``; ``io=False`` leaves the disk I/O totals as last read
        (only the status rows show them, the historian's figures rows do not)."""
        now = self.sys.monotonic()
        last = self._last.get(pid)
        stats = self.sys.proc_stats(pid, io=io and (last is None or now >= last[4]))
        if stats is None:
            self._last.pop(pid, None)
            return {}
        if last is None:
            last = self._last[pid] = [now, stats.cpu_s, 0.0, 0.0, 0.0]
        t0, cpu0 = last[0], last[1]
        cpu = (stats.cpu_s - cpu0) / (now - t0) * 100 if now > t0 else 0.0
        last[0], last[1] = now, stats.cpu_s
        if stats.read_bytes is not None and stats.write_bytes is not None:
            last[2] = round(stats.read_bytes / MB, 3)
            last[3] = round(stats.write_bytes / MB, 3)
            last[4] = now + IO_EVERY_S
        rss = stats.rss_mb
        return {"cpu_percent": round(cpu, 1), "memory_mb": round(rss, 2),
                "memory_percent": round(rss / self.total_mb * 100, 2),
                "nice": stats.nice, "disk_io_read_mb": last[2], "disk_io_write_mb": last[3]}

    def forget(self, keep: set[int]) -> None:
        """Drop the history of pids that are gone."""
        for pid in [p for p in self._last if p not in keep]:
            del self._last[pid]


def host() -> dict[str, Any]:
    """Host-wide figures for the system page."""
    import psutil  # (here only: the supervisor's idle path does without it)

    vm = psutil.virtual_memory()
    disk = psutil.disk_usage("/")
    return {"cpu_percent": psutil.cpu_percent(None), "cpu_count": psutil.cpu_count(),
            "memory_total_mb": round(vm.total / MB), "memory_used_mb": round(vm.used / MB),
            "memory_percent": vm.percent, "disk_total_gb": round(disk.total / MB / 1024, 1),
            "disk_used_gb": round(disk.used / MB / 1024, 1), "disk_percent": disk.percent,
            "load_avg": list(psutil.getloadavg())}
