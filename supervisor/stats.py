"""What the supervisor measures of each child itself, with psutil."""

from __future__ import annotations

from typing import Any

import psutil
from edgeos.supervisor.seam import System

MB = 1024 * 1024


class Sampler:
    """Per-process figures from /proc through the seam; CPU percent between samples."""

    def __init__(self, system: System) -> None:
        self.sys = system
        self.total_mb = psutil.virtual_memory().total / MB
        self._last: dict[int, tuple[float, float]] = {}  # pid -> (monotonic, cpu seconds)

    def sample(self, pid: int) -> dict[str, Any]:
        stats = self.sys.proc_stats(pid)
        if stats is None:
            self._last.pop(pid, None)
            return {}
        now = self.sys.monotonic()
        t0, cpu0 = self._last.get(pid, (now, stats.cpu_s))
        self._last[pid] = (now, stats.cpu_s)
        cpu = (stats.cpu_s - cpu0) / (now - t0) * 100 if now > t0 else 0.0
        return {"cpu_percent": round(cpu, 1), "memory_mb": round(stats.rss_mb, 2),
                "memory_percent": round(stats.rss_mb / self.total_mb * 100, 2),
                "nice": stats.nice, "disk_io_read_mb": round(stats.read_bytes / MB, 3),
                "disk_io_write_mb": round(stats.write_bytes / MB, 3)}

    def forget(self, keep: set[int]) -> None:
        """Drop the history of pids that are gone."""
        for pid in list(self._last):
            if pid not in keep:
                del self._last[pid]


def host() -> dict[str, Any]:
    """Host-wide figures for the system page."""
    vm = psutil.virtual_memory()
    disk = psutil.disk_usage("/")
    return {"cpu_percent": psutil.cpu_percent(None), "cpu_count": psutil.cpu_count(),
            "memory_total_mb": round(vm.total / MB), "memory_used_mb": round(vm.used / MB),
            "memory_percent": vm.percent, "disk_total_gb": round(disk.total / MB / 1024, 1),
            "disk_used_gb": round(disk.used / MB / 1024, 1), "disk_percent": disk.percent,
            "load_avg": list(psutil.getloadavg())}
