"""What the supervisor measures of each child itself, with psutil."""

from __future__ import annotations

from typing import Any

import psutil

MB = 1024 * 1024


class Sampler:
    """Keeps one psutil.Process per pid so CPU percent is measured between samples."""

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}

    def sample(self, pid: int) -> dict[str, Any]:
        proc = self._procs.get(pid)
        try:
            if proc is None:
                proc = self._procs[pid] = psutil.Process(pid)
            with proc.oneshot():
                cpu = proc.cpu_percent(None)
                mem = proc.memory_info()
                mem_pct = proc.memory_percent()
                nice = proc.nice()
                try:
                    io = proc.io_counters()
                    read_mb, write_mb = io.read_bytes / MB, io.write_bytes / MB
                except (psutil.AccessDenied, AttributeError):
                    read_mb = write_mb = 0.0
        except psutil.Error:
            self._procs.pop(pid, None)
            return {}
        return {"cpu_percent": round(cpu, 1), "memory_mb": round(mem.rss / MB, 2),
                "memory_percent": round(mem_pct, 2), "nice": nice,
                "disk_io_read_mb": round(read_mb, 3), "disk_io_write_mb": round(write_mb, 3)}

    def forget(self, keep: set[int]) -> None:
        """Drop handles of pids that are gone."""
        for pid in list(self._procs):
            if pid not in keep:
                del self._procs[pid]


def host() -> dict[str, Any]:
    """Host-wide figures for the system page."""
    vm = psutil.virtual_memory()
    disk = psutil.disk_usage("/")
    return {"cpu_percent": psutil.cpu_percent(None), "cpu_count": psutil.cpu_count(),
            "memory_total_mb": round(vm.total / MB), "memory_used_mb": round(vm.used / MB),
            "memory_percent": vm.percent, "disk_total_gb": round(disk.total / MB / 1024, 1),
            "disk_used_gb": round(disk.used / MB / 1024, 1), "disk_percent": disk.percent,
            "load_avg": list(psutil.getloadavg())}
