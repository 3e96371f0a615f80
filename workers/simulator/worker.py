"""The simulator worker: one profile, a rate, and optionally a fault."""

from __future__ import annotations

import asyncio
import math
import zlib
from typing import Any

from edgeos.workers.runtime import BadValue, DeviceError, ReadOnly, UnknownDatapoint, Worker
from edgeos.workers.simulator import faults
from edgeos.workers.simulator.profiles import PROFILES, Profile


class SimulatorWorker(Worker):
    """Publishes realistic values for a PLC, BMS, inverter or meter."""

    type_name = "simulator"
    profile: Profile

    async def setup(self) -> None:
        self.profile = PROFILES[self.config["profile"]](zlib.crc32(self.id.encode()))
        self.rate = float(self.config["rate_hz"])
        self.fault: dict[str, Any] = dict(self.config.get("fault") or {})
        # Provoked write outcomes for demos and tests: the device says no, or it takes
        # the command and never reports the setpoint (the caller's timeout).
        self.write_fault: str | None = self.config.get("write_fault")
        self.known: set[str] = set(self.profile.meta())
        if self.fault.get("kind") == "slow_stop":
            faults.ignore_sigterm()
        for path, meta in self.profile.meta().items():
            self.publish_meta(path, **meta)

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._tick_loop())]
        fault_task = self._start_fault()
        if fault_task is not None:
            tasks.append(fault_task)
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # re-raises a simulated crash into the runtime
        finally:
            for task in tasks:
                task.cancel()

    async def _tick_loop(self) -> None:
        period = 1.0 / self.rate
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            for path, value, unit in self.profile.tick(period):
                self.known.add(path)
                if self.write_fault == "no_report" and path == self.profile.setpoint_path:
                    continue
                self.publish(path, value, unit=unit)
            next_at = max(next_at + period, loop.time() - period)
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    def _start_fault(self) -> asyncio.Task[None] | None:
        kind = self.fault.pop("kind", None)
        if kind in (None, "slow_stop"):
            return None
        if kind == "spam":
            return asyncio.create_task(faults.spam(self._spam_burst, **self.fault))
        return asyncio.create_task(getattr(faults, kind)(**self.fault))

    def _spam_burst(self, n: int) -> None:
        for i in range(n):
            self.publish(f"spam.{i % 50}", i)

    async def on_command(self, path: str, value: Any) -> None:
        if path != self.profile.setpoint_path:
            if path in self.known:
                raise ReadOnly(f"{self.id}.{path} is read-only")
            raise UnknownDatapoint(f"{self.id} has no datapoint {path!r}")
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise BadValue(f"{self.id}.{path}: bad value {value!r}, expected a number")
        try:
            number = float(value)
        except ValueError:
            raise BadValue(f"{self.id}.{path}: bad value {value!r}, expected a number") from None
        if not math.isfinite(number):
            raise BadValue(f"{self.id}.{path}: bad value {value!r}, expected a finite number")
        if self.write_fault == "device_error":
            raise DeviceError(f"{self.id}.{path}: the device refused the write (simulated)")
        reported = self.profile.write(path, number)
        if self.write_fault != "no_report":
            self.publish(path, reported, unit=self.profile.setpoint_unit)
