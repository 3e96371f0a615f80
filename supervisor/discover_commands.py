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

from edgeos.ipc.commands import Arg
from edgeos.ipc.rpc import BAD_REQUEST, NOT_FOUND, REFUSED, RpcError
from edgeos.supervisor.commands import ID, WHO, Command
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
JOB = Arg("job", required=True, help="the job id", least=1, most=100)


class JobCommand(Command):
    """Base: the arbiter's job runner, unknown jobs as not found."""

    def job(self, args: dict[str, Any]) -> Job:
        try:
            return self.arbiter.jobs.get(args["job"])
        except JobError as exc:
            raise RpcError(str(exc), NOT_FOUND) from None


class Discover(JobCommand):
    """Start a discovery job: modbus (tcp://HOST:PORT, rtu://PORT), mbus (a serial port), ble."""

    name = "discover"
    args = (Arg("kind", required=True, choices=tuple(KINDS), help="what to look for"),
            Arg("target", required=True, least=1, most=512,
                help="modbus: tcp://HOST:PORT or rtu://PORT; mbus: a serial port; ble: an "
                     "adapter such as hci0, or default"),
            Arg("units", help="modbus: unit ids A-B, A or A,B,C-D", most=MAX_OPTION),
            Arg("mode", choices=("primary", "secondary"), help="mbus: how to search"),
            Arg("addresses", help="mbus primary: A-B, A or A,B,C-D", most=MAX_OPTION),
            Arg("mask", help="mbus secondary: 16 hex digits, F = wildcard", most=MAX_OPTION),
            Arg("baudrate", "int", help="mbus: the line's baud rate", least=0,
                most=10_000_000),
            Arg("timeout_s", "float", help="seconds to wait for each answer", least=0,
                most=60),
            Arg("duration_s", "float", help="ble: seconds to listen", least=0, most=600),
            WHO)

    async def execute(self, args: dict[str, Any]) -> Any:
        kind, target = args["kind"], args["target"]
        module, options = KINDS[kind]
        argv = [sys.executable, "-m", module]
        for key, value in args.items():
            if key in ("kind", "target", "who") or value is None:
                continue
            if key not in options:
                raise RpcError(f"{kind} discovery takes no option {key!r} "
                               f"(options: {', '.join(options)})", BAD_REQUEST)
            argv += [f"{options[key]}={value}"]
        argv += ["--", target]  # a target is never taken for an option
        try:
            job = await self.arbiter.jobs.start(kind, target, argv)
        except JobError as exc:
            raise RpcError(str(exc), REFUSED) from None
        await _first_line(job)
        self.arbiter.audit("discover", args["who"], f"{kind} {target}")
        return job.as_dict()


class Browse(JobCommand):
    """Browse what a running ads or mqtt instance's device offers (symbols or topics)."""

    name = "browse"
    args = (ID, Arg("filter", help="mqtt: the topic filter", most=1024),
            Arg("duration_s", "float", help="mqtt: seconds to listen", least=0, most=600),
            WHO)
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
    """Wait for the job's first line; a job whose first word is an error refused its
    arguments: a bad request. A job that fails later (a device unreachable) is returned
    and reads as failed, however fast that came."""
    with contextlib.suppress(TimeoutError):  # slow to start: followed like any other job
        await asyncio.wait_for(job.first_line.wait(), FIRST_LINE_S)
    if job.refused:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(job.finished.wait(), FIRST_LINE_S)
        raise RpcError(job.error, BAD_REQUEST)


class DiscoverStatus(JobCommand):
    """Progress, findings and (when done) the result of a discovery job."""

    name = "discover_status"
    args = (JOB,)

    async def execute(self, args: dict[str, Any]) -> Any:
        return self.job(args).as_dict()


class DiscoverCancel(JobCommand):
    """Cancel a running discovery job."""

    name = "discover_cancel"
    args = (JOB,)

    async def execute(self, args: dict[str, Any]) -> Any:
        job = self.job(args)
        self.arbiter.jobs.cancel(job.id)
        return job.as_dict()


class DiscoverList(JobCommand):
    """Recent discovery jobs, newest last (without their results)."""

    name = "discover_list"
    args = ()

    async def execute(self, args: dict[str, Any]) -> Any:
        return [{k: v for k, v in job.as_dict().items() if k not in ("result", "found")}
                for job in self.arbiter.jobs.jobs.values()]
