"""The instances' side of kernel enforcement: placement at spawn, the cgroup events,
and why a process died.

The kernel caps a worker's memory and kills it at the cap; this module turns that
into what the state machine expects: the 80 % warning as a limit event when the
kernel says so (no RSS polling), and a kernel OOM kill as ``killed`` with the reason
``RAM limit exceeded ...`` followed by the usual restart policy. The OOM can reach us
as the cgroup event before the exit, or the exit first: :meth:`KernelLimits.explain_exit`
asks the cgroup's ``oom_kill`` counter, so both orders end the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from edgeos.supervisor.cgroups import Backend, bytes_of_mb
from edgeos.supervisor.process import Instance

log = logging.getLogger(__name__)

MB = 1024 * 1024
Report = Callable[[Instance, str, str], None]


class KernelLimits:
    def __init__(self, backend: Backend, report: Report) -> None:
        self.backend = backend
        self.report = report
        self.placed: dict[str, int] = {}  # instance -> the pid the kernel enforces
        self._oom_done: set[int] = set()  # pids whose RAM kill was reported

    def place(self, inst: Instance, pid: int) -> bool:
        """Put a fresh process under its kernel limits; False (sampling) if that fails."""
        try:
            self.backend.place(inst.id, pid, inst.cfg.limits,
                               lambda kind, value: self._on_event(inst, pid, kind, value))
        except OSError as exc:
            log.warning("%s: cgroup placement failed (%s); sampling instead", inst.id, exc)
            self.backend.release(inst.id)
            self.placed.pop(inst.id, None)
            return False
        self.placed[inst.id] = pid
        return True

    def enforces(self, inst: Instance) -> bool:
        return inst.pid is not None and self.placed.get(inst.id) == inst.pid

    def label(self, inst: Instance) -> str:
        """What enforces the instance's limits: the backend's name or ``sampling``."""
        if inst.pid is None:
            return self.backend.name if inst.id in self.placed else "sampling"
        return self.backend.name if self.enforces(inst) else "sampling"

    def throttled_s(self, inst: Instance) -> float:
        share = inst.cfg.limits.get("max_cpu_share")
        if not self.enforces(inst) or not share or float(share) >= 100:
            return 0.0  # (a whole core or more: not worth a file read per status)
        return self.backend.throttled_s(inst.id)

    def exited(self, inst: Instance) -> None:
        """The process ended: stop watching, and end what it left in its leaf."""
        self.backend.release(inst.id)
        if inst.id in self.placed:
            self.backend.kill(inst.id)

    def remove(self, inst_id: str) -> None:
        self.placed.pop(inst_id, None)
        self.backend.remove(inst_id)

    def close(self) -> None:
        self.backend.close()

    def _message(self, inst: Instance) -> str:
        cap = inst.cfg.limits.get("max_ram_mb")
        return (f"RAM limit exceeded: killed by the kernel at max_ram_mb {cap} MB "
                f"({self.backend.name})")

    def _ram_kill(self, inst: Instance, pid: int) -> str:
        message = self._message(inst)
        if pid not in self._oom_done:
            self._oom_done.add(pid)
            self.report(inst, "ram_exceeded", message)
            inst.on_error(message)
        return message

    def _on_event(self, inst: Instance, pid: int, kind: str, value: int) -> None:
        if inst.pid != pid:
            return  # an event of a process already replaced
        cap = inst.cfg.limits.get("max_ram_mb")
        if kind == "ram_warning" and cap:
            self.report(inst, "ram_warning",
                        f"RAM at {value / bytes_of_mb(cap):.0%} of its limit: "
                        f"{value / MB:.1f} of {cap} MB ({self.backend.name} event)")
        elif kind == "oom":
            # the kernel killed the biggest task; end the rest of the tree the same way
            inst.kill(self._ram_kill(inst, pid), restart=True)

    def explain_exit(self, inst: Instance, pid: int, code: int) -> str | None:
        """Called by the instance when its process died unasked: was it the kernel's
        OOM kill at the cap? Then the reason, else None (a crash)."""
        if self.placed.get(inst.id) != pid or not self.backend.oom_killed(inst.id):
            return None
        return self._ram_kill(inst, pid)
