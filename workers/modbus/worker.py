"""The modbus worker: polls a register map over TCP or RTU, writes commands back.

Every bus turn (the due read blocks, or one write with its read-back) runs in a
single I/O thread, so the event loop keeps sending heartbeats while a device takes
its time; turns are serialised, which is also what a Modbus master must do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from edgeos.workers.modbus.breaker import CircuitBreaker
from edgeos.workers.modbus.link import (
    BusCounters,
    DeviceRejected,
    DeviceUnreachable,
    LinkError,
    ModbusLink,
)
from edgeos.workers.modbus.plan import Block, plan
from edgeos.workers.modbus.points import Point, ScaleUnknown, exponent_of
from edgeos.workers.modbus.points import load as load_map
from edgeos.workers.runtime import BadValue, DeviceError, ReadOnly, UnknownDatapoint, Worker

Result = tuple[Block, list[Any] | None, LinkError | None]


class ModbusWorker(Worker):
    """One Modbus device (one unit id) with its register map."""

    type_name = "modbus"
    totals = frozenset({"requests", "responses", "registers"})

    async def setup(self) -> None:
        # pymodbus logs every failed connect at ERROR; we count and report them ourselves
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
        cfg = self.config
        try:
            self.points: dict[str, Point] = load_map(cfg)
            self.blocks = plan(self.points.values(),
                               max_registers=int(cfg["max_registers"]),
                               max_bits=int(cfg["max_bits"]),
                               max_gap=int(cfg["max_gap"]))
        except ValueError as exc:
            raise ValueError(f"{self.id}: register map: {exc}") from None
        breaker = cfg["breaker"]  # complete: the supervisor filled the schema's defaults
        self.breaker = CircuitBreaker(threshold=int(breaker["failures"]),
                                      open_s=float(breaker["open_s"]),
                                      max_open_s=float(breaker["max_open_s"]))
        self.counters = BusCounters()
        self.link = ModbusLink(cfg, self.spec.run_dir, self.counters)
        self._io = ThreadPoolExecutor(1, thread_name_prefix=f"modbus-{self.id}")
        self._raw: dict[str, list[Any]] = {}  # last good registers/bits per point
        self._last: dict[str, Any] = {}  # last published value per point
        self._quality: dict[str, str] = {}
        self._block_error: dict[int, str] = {}  # id(block) -> error last reported
        self._reachable: bool | None = None
        self._mark = (time.monotonic(), 0, 0, 0, 0.0)
        for point in self.points.values():
            self.publish_meta(point.name, **self._meta(point))
        self.log.info("%s unit %s: %d points in %d read requests", self.link.endpoint,
                      self.link.unit_id, len(self.points), len(self.blocks))

    @staticmethod
    def _meta(point: Point) -> dict[str, Any]:
        kind = "boolean" if point.bits else "string" if point.type == "string" else "number"
        meta = {"type": kind, "writable": point.writable, "poll_interval_s": point.interval,
                "register": f"{point.table}:{point.address}", "data_type": point.type,
                **point.meta}
        if point.unit:
            meta["unit"] = point.unit
        return meta

    # -- polling ---------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        due = {id(b): loop.time() for b in self.blocks}
        while True:
            if not self.breaker.allow():
                await asyncio.sleep(self.breaker.retry_in())
                continue
            now = loop.time()
            ready = [b for b in self.blocks if due[id(b)] <= now]
            if not ready:
                await asyncio.sleep(min(due.values()) - now)
                continue
            for block in ready:
                nxt = due[id(block)] + block.interval
                due[id(block)] = nxt if nxt > now else now + block.interval
            results = await loop.run_in_executor(self._io, self._poll, ready)
            self._apply(results)

    def _poll(self, ready: list[Block]) -> list[Result]:
        """One bus turn reading every due block (I/O thread)."""
        out: list[Result] = []
        try:
            with self.link.turn():
                for block in ready:
                    try:
                        data = self.link.read(block.table, block.start, block.count)
                        out.append((block, data, None))
                    except DeviceRejected as exc:
                        out.append((block, None, exc))
        except LinkError as exc:  # unreachable or line busy: the rest of the turn fails too
            done = {id(b) for b, _, _ in out}
            out += [(b, None, exc) for b in ready if id(b) not in done]
        return out

    def _apply(self, results: list[Result]) -> None:
        """Publish a turn's outcome and feed the circuit breaker (event loop)."""
        for block, data, _ in results:
            if data is not None:
                for point in block.points:
                    self._raw[point.name] = block.slice(point, data)
        unreachable: LinkError | None = None
        answered = False
        for block, _, error in results:
            if error is None:
                answered = True
                self._block_error.pop(id(block), None)
                for point in block.points:
                    value, quality = self._value(point, self._raw[point.name])
                    self._set(point, value, quality)
                continue
            if isinstance(error, DeviceRejected):
                answered = True
            elif isinstance(error, DeviceUnreachable):
                unreachable = error
            if self._block_error.get(id(block)) != str(error):
                self._block_error[id(block)] = str(error)
                if not isinstance(error, DeviceUnreachable):
                    self.count_error(f"{self.link.endpoint} unit {self.link.unit_id}: {error}")
            for point in block.points:
                self._set(point, self._last.get(point.name), "bad")
        if unreachable is not None:
            self._unreachable(unreachable)
        elif answered:
            self._answered()

    def _value(self, point: Point, data: list[Any]) -> tuple[Any, str]:
        try:
            return point.value(data, exponent_of(point, self.points, self._raw))
        except ScaleUnknown:
            return None, "uncertain"

    def _set(self, point: Point, value: Any, quality: str) -> None:
        if quality == "bad" and self._quality.get(point.name) == "bad":
            return  # said once; nothing new until the device answers again
        self._last[point.name] = value
        self._quality[point.name] = quality
        self.publish(point.name, value, quality=quality, unit=point.unit)

    def _unreachable(self, error: LinkError) -> None:
        before = self.breaker.state
        self.breaker.record_failure()
        if self._reachable is not False:
            self.count_error(f"{self.link.endpoint} unit {self.link.unit_id}: {error}")
        self._reachable = False
        if self.breaker.state == "open":
            self.log.log(logging.WARNING if before == "closed" else logging.DEBUG,
                         "%s unit %s: circuit open after %d failed turns; next try in %.1f s",
                         self.link.endpoint, self.link.unit_id, self.breaker.failures,
                         self.breaker.retry_in())

    def _answered(self) -> None:
        if self._reachable is False:
            self.log.info("%s unit %s: answering again", self.link.endpoint,
                          self.link.unit_id)
        self._reachable = True
        self.breaker.record_success()

    # -- commands --------------------------------------------------------------------
    async def on_command(self, path: str, value: Any) -> None:
        point = self.points.get(path)
        if point is None:
            raise UnknownDatapoint(f"{self.id} has no register map entry {path!r}")
        if not point.writable:
            raise ReadOnly(f"{self.id}.{path} is read-only")
        try:
            payload = point.encode(value, exponent_of(point, self.points, self._raw))
        except (ValueError, ScaleUnknown) as exc:
            raise BadValue(f"{self.id}.{path}: {exc}") from None
        if not self.breaker.allow():
            raise DeviceError(f"{self.id}.{path}: device unreachable, next try in "
                                  f"{self.breaker.retry_in():.1f} s")
        loop = asyncio.get_running_loop()
        try:
            data = await loop.run_in_executor(self._io, self._write, point, payload)
        except DeviceRejected as exc:
            self._answered()
            raise DeviceError(f"{self.id}.{path}: {exc}") from None
        except LinkError as exc:
            if isinstance(exc, DeviceUnreachable):
                self._unreachable(exc)
            raise DeviceError(f"{self.id}.{path}: write failed: {exc}") from None
        self._answered()
        self._raw[point.name] = data
        reported, quality = self._value(point, data)
        self._set(point, reported, quality)

    def _write(self, point: Point, payload: list[Any]) -> list[Any]:
        """Write, then read back what the device now holds (I/O thread)."""
        with self.link.turn():
            self.link.write(point.table, point.address, payload)
            return self.link.read(point.table, point.address, point.width)

    # -- lifecycle and figures -------------------------------------------------------
    async def teardown(self) -> None:
        for point in self.points.values():  # nobody watches the device any more
            if point.name in self._quality:
                self._set(point, self._last.get(point.name), "bad")
        self.link.cancel.set()
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(self._io, self.link.close), 1.5)
        finally:
            self._io.shutdown(wait=False, cancel_futures=True)

    def stats(self) -> dict[str, Any]:
        c = self.counters
        now = time.monotonic()
        t0, req0, val0, resp0, lat0 = self._mark
        dt = max(now - t0, 1e-3)
        answers = c.responses - resp0
        self._mark = (now, c.requests, c.registers, c.responses, c.latency_ms_sum)
        latency_max, c.latency_ms_max = c.latency_ms_max, 0.0
        errors = c.timeouts + c.crc_errors + c.bad_answers + c.exceptions + c.connect_failures
        figures = {k: v for k, v in c.as_dict().items()
                   if k not in ("latency_ms_sum", "latency_ms_max", "line_wait_ms_sum", "turns")}
        out: dict[str, Any] = {
            "transport": "rtu" if self.link.line else "tcp", "endpoint": self.link.endpoint,
            "unit_id": self.link.unit_id, "connected": bool(self._reachable),
            "breaker": self.breaker.state, "breaker_opened": self.breaker.opened,
            "retry_in_s": round(self.breaker.retry_in(), 1),
            "requests_per_s": round((c.requests - req0) / dt, 1),
            "registers_per_s": round((c.registers - val0) / dt, 1),
            "latency_ms": round((c.latency_ms_sum - lat0) / answers, 2) if answers else None,
            "latency_max_ms": round(latency_max, 2), "errors": errors,
            "points": len(self.points), "read_requests": len(self.blocks),
            "points_bad": sum(q == "bad" for q in self._quality.values()),
            "packets_sent": c.requests, "packets_recv": c.responses, **figures,
        }
        if self.link.line:  # how long this instance waited for its turn on a shared line
            out["line_turns"] = c.turns
            out["line_wait_ms"] = round(c.line_wait_ms_sum / c.turns, 2) if c.turns else 0.0
        return out
