"""Control commands for discovery and browse jobs: start one, follow it, cancel it.

A job is a process of its own (:mod:`edgeos.supervisor.jobs`); the discovery code lives
with its worker type (``python -m edgeos.workers.modbus.discover``), which also checks
the arguments: ``discover`` waits for the job's first line, so a bad target or unit range
comes back as a bad request naming the value, not as a failed job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any, ClassVar

from edgeos.ipc.rpc import BAD_REQUEST, NOT_FOUND, REFUSED, RpcError
from edgeos.supervisor.commands import Command
from edgeos.supervisor.jobs import Job, JobError

#: kind -> the module that discovers it, and its options (argument -> command-line flag)
KINDS: dict[str, tuple[str, dict[str, str]]] = {
    "modbus": ("edgeos.workers.modbus.discover", {"units": "--units", "timeout_s": "--timeout"}),
    "mbus": ("edgeos.workers.mbus.discover", {
        "mode": "--mode", "addresses": "--addresses", "mask": "--mask",
        "baudrate": "--baudrate", "timeout_s": "--timeout"}),
    "ble": ("edgeos.workers.bms.discover", {"duration_s": "--duration"}),
}
MAX_OPTION = 200
FIRST_LINE_S = 15.0


class JobCommand(Command):
    """Base: the arbiter's job runner, unknown jobs as not found."""

    def job(self, args: dict[str, Any]) -> Job:
        job_id = args.get("job")
        if not isinstance(job_id, str):
            raise RpcError("a job id is required", BAD_REQUEST)
        try:
            return self.arbiter.jobs.get(job_id)
        except JobError as exc:
            raise RpcError(str(exc), NOT_FOUND) from None


class Discover(JobCommand):
    """Start a discovery job: modbus (tcp://HOST:PORT, rtu://PORT), mbus (a serial port), ble."""

    name = "discover"

    async def execute(self, args: dict[str, Any]) -> Any:
        kind, target = args.get("kind"), args.get("target")
        if kind not in KINDS:
            raise RpcError(f"unknown discovery kind {kind!r} (known: {', '.join(KINDS)})",
                           BAD_REQUEST)
        if not isinstance(target, str) or not target or len(target) > 512:
            raise RpcError("target is required (modbus: tcp://HOST:PORT or rtu://PORT; "
                           "mbus: a serial port; ble: an adapter such as hci0, or default)",
                           BAD_REQUEST)
        module, options = KINDS[kind]
        argv = [sys.executable, "-m", module]
        for key, value in args.items():
            if key in ("kind", "target", "who") or value is None:
                continue
            if key not in options or len(str(value)) > MAX_OPTION:
                raise RpcError(f"{kind} discovery takes no option {key!r} "
                               f"(options: {', '.join(options)})", BAD_REQUEST)
            argv += [f"{options[key]}={value}"]
        argv += ["--", target]  # a target is never taken for an option
        try:
            job = await self.arbiter.jobs.start(kind, target, argv)
        except JobError as exc:
            raise RpcError(str(exc), REFUSED) from None
        await _first_line(job)
        self.arbiter.audit("discover", args.get("who") or "edgectl", f"{kind} {target}")
        return job.as_dict()


class Browse(JobCommand):
    """Browse what a running ads or mqtt instance's device offers (symbols or topics)."""

    name = "browse"
    #: instance type -> the module that browses it, and the options it takes
    TYPES: ClassVar[dict[str, tuple[str, frozenset[str]]]] = {
        "ads": ("edgeos.workers.ads.browse", frozenset()),
        "mqtt": ("edgeos.workers.mqtt.browse", frozenset({"filter", "duration_s"})),
    }

    async def execute(self, args: dict[str, Any]) -> Any:
        inst = self.instance(args)
        if inst.cfg.type not in self.TYPES:
            raise RpcError(f"{inst.id} is of type {inst.cfg.type}; browsing is for "
                           f"{' and '.join(self.TYPES)} instances", BAD_REQUEST)
        module, options = self.TYPES[inst.cfg.type]
        extra = {k: v for k, v in args.items() if k not in ("id", "who") and v is not None}
        unknown = sorted(set(extra) - options)
        if unknown:
            raise RpcError(f"browsing {inst.cfg.type} takes no option {unknown[0]!r}",
                           BAD_REQUEST)
        request = json.dumps({"instance": inst.id, "config": inst.cfg.config, **extra})
        try:
            job = await self.arbiter.jobs.start(inst.cfg.type, inst.id,
                                                [sys.executable, "-m", module],
                                                request.encode())
        except JobError as exc:
            raise RpcError(str(exc), REFUSED) from None
        await _first_line(job)
        return job.as_dict()


async def _first_line(job: Job) -> None:
    """Wait for the job's first line; a job that refused its arguments is a bad request."""
    with contextlib.suppress(TimeoutError):  # slow to start: followed like any other job
        await asyncio.wait_for(job.first_line.wait(), FIRST_LINE_S)
    if job.error is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(job.finished.wait(), FIRST_LINE_S)
        raise RpcError(job.error, BAD_REQUEST)


class DiscoverStatus(JobCommand):
    """Progress, findings and (when done) the result of a discovery job."""

    name = "discover_status"

    async def execute(self, args: dict[str, Any]) -> Any:
        return self.job(args).as_dict()


class DiscoverCancel(JobCommand):
    """Cancel a running discovery job."""

    name = "discover_cancel"

    async def execute(self, args: dict[str, Any]) -> Any:
        job = self.job(args)
        self.arbiter.jobs.cancel(job.id)
        return job.as_dict()


class DiscoverList(JobCommand):
    """Recent discovery jobs, newest last (without their results)."""

    name = "discover_list"

    async def execute(self, args: dict[str, Any]) -> Any:
        return [{k: v for k, v in job.as_dict().items() if k not in ("result", "found")}
                for job in self.arbiter.jobs.jobs.values()]
