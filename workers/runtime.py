"""The runtime every worker type runs on.

A worker type subclasses :class:`Worker` and implements ``run()`` (and usually
``on_command()``); :class:`Runtime` owns the process: sockets to the supervisor and
the broker, batching of datapoints, heartbeats with counters, graceful stop on
SIGTERM, and reporting of uncaught errors with their stack trace.

Datapoints are batched per event-loop tick and sent by one sender task that awaits
the broker's back-pressure. While the broker is away the batches wait in a bounded
outbox; what overflows it is counted as ``dropped``, never lost silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import deque
from typing import Any, ClassVar

import zmq
import zmq.asyncio
from edgeos.ipc import addresses, protocol
from edgeos.ipc.child import InstanceSpec, SupervisorLink

log = logging.getLogger(__name__)

BATCH_MAX = 1000  # datapoints per DP message
OUTBOX_MAX = 100_000  # datapoints buffered while the broker is away
TEARDOWN_S = 2.0
ORIGIN_TTL_S = 5.0  # how long a command's origin sticks to the value reported back


class CommandRejected(Exception):
    """A command the worker cannot carry out (read-only point, bad value)."""


class Worker:
    """Base class of every worker type.

    Subclasses set ``type_name``. The JSON Schema of the instance's ``config`` lives in
    the type package's ``manifest.json``, read by the supervisor without importing
    the worker (and its device libraries).
    """

    type_name: ClassVar[str] = ""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.spec = runtime.spec
        self.id = runtime.spec.id
        self.config: dict[str, Any] = runtime.spec.config
        self.log = logging.getLogger(f"workers.{self.type_name or 'worker'}.{self.id}")

    async def setup(self) -> None:
        """Prepare before READY is reported (open files, parse config). Keep it short."""

    async def run(self) -> None:
        """The worker's main loop; the default idles until stopped."""
        await asyncio.Event().wait()

    async def on_command(self, path: str, value: Any) -> None:
        """A command (ack false) routed to ``<id>.<path>``."""
        raise CommandRejected(f"{self.id}.{path} is not writable")

    async def teardown(self) -> None:
        """Release devices on a graceful stop (bounded by ``TEARDOWN_S``)."""

    def stats(self) -> dict[str, Any]:
        """Bus figures for the heartbeat (connected, requests/s, latency...)."""
        return {}

    # -- helpers for subclasses ------------------------------------------------------
    def publish(self, path: str, value: Any, *, quality: str = "good", unit: str | None = None,
                ts: int | None = None, ack: bool = True) -> None:
        self.runtime.publish(path, value, quality=quality, unit=unit, ts=ts, ack=ack)

    def publish_meta(self, path: str, **meta: Any) -> None:
        self.runtime.publish_meta(path, meta)

    def count_error(self, message: str) -> None:
        self.runtime.count_error(message)


class Runtime:
    """One worker process: the event loop around one :class:`Worker` instance."""

    def __init__(self, spec: InstanceSpec, worker_cls: type[Worker]) -> None:
        self.spec = spec
        self.worker_cls = worker_cls
        self.ctx = zmq.asyncio.Context()
        self.link = SupervisorLink(self.ctx, spec)
        self.broker = self.ctx.socket(zmq.DEALER)
        self.broker.setsockopt(zmq.IDENTITY, spec.id.encode())
        self.broker.setsockopt(zmq.SNDHWM, 200)
        self.broker.setsockopt(zmq.LINGER, 1000)
        self.broker.connect(addresses.endpoint(spec.run_dir, addresses.BROKER))
        self._batch: list[list[Any]] = []
        self._cut_scheduled = False
        self._outbox: deque[list[bytes]] = deque()
        self._outbox_dps: deque[int] = deque()
        self._queued = 0
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self.out_total = 0
        self.in_total = 0
        self.dropped = 0
        self.errors = 0
        self.last_error: str | None = None
        self._rate_mark = (time.monotonic(), 0, 0)
        self.worker: Worker | None = None
        # Origin chains of recent commands, per path: the value a device reports back
        # carries them, so the broker never routes it back where it came from.
        self._origins: dict[str, tuple[list[str], float]] = {}
        # The origin chain of the command on_command() is handling: its last entry is the
        # address the routed value came from (empty for a direct set).
        self.command_origin: tuple[str, ...] = ()

    # -- publishing ------------------------------------------------------------------
    def publish(self, path: str, value: Any, *, quality: str = "good", unit: str | None = None,
                ts: int | None = None, ack: bool = True) -> None:
        item = [path, value, ts or protocol.now_ms(), quality, ack, unit]
        if self._origins and path in self._origins:
            hops, until = self._origins.pop(path)
            if until > time.monotonic():
                item.append(hops)
        self._batch.append(item)
        if len(self._batch) >= BATCH_MAX:
            self._cut()
        elif not self._cut_scheduled:
            self._cut_scheduled = True
            asyncio.get_running_loop().call_soon(self._cut)

    def publish_meta(self, path: str, meta: dict[str, Any]) -> None:
        self._enqueue([protocol.META, protocol.pack({path: meta})], 0)

    def publish_blob(self, path: str, data: bytes, *, quality: str = "good",
                     unit: str | None = None) -> None:
        """A large value as its own frame, passed on by the broker without copying."""
        header = protocol.pack([path, protocol.now_ms(), quality, True, unit])
        self._enqueue([protocol.BLOB, header, data], 1)

    def send_commands(self, commands: list[tuple[str, Any]]) -> None:
        """Ask the broker to deliver commands to absolute addresses (bridges, Node-RED)."""
        self._enqueue([protocol.CMD, protocol.pack([[a, v] for a, v in commands])], 0)

    def _cut(self) -> None:
        self._cut_scheduled = False
        if self._batch:
            batch, self._batch = self._batch, []
            self._enqueue([protocol.DP, protocol.pack(batch)], len(batch))

    def _enqueue(self, frames: list[bytes], dps: int) -> None:
        self._outbox.append(frames)
        self._outbox_dps.append(dps)
        self._queued += dps
        while self._queued > OUTBOX_MAX and len(self._outbox) > 1:
            self._outbox.popleft()
            lost = self._outbox_dps.popleft()
            self._queued -= lost
            self.dropped += lost
        self._wake.set()

    async def _sender(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                frames = self._outbox.popleft()
                dps = self._outbox_dps.popleft()
                self._queued -= dps
                await self.broker.send_multipart(frames, copy=len(frames) < 3)
                self.out_total += dps

    async def _flush(self, timeout: float) -> None:
        """Hand what is still queued to the broker, for at most ``timeout`` seconds."""
        self._cut()
        deadline = time.monotonic() + timeout
        while self._outbox and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    # -- commands --------------------------------------------------------------------
    async def _commands(self) -> None:
        assert self.worker is not None
        while True:
            frames = await self.broker.recv_multipart()
            if len(frames) < 2 or frames[0] != protocol.CMD:
                continue
            try:
                items = protocol.unpack(frames[1])
            except ValueError:
                self.count_error("malformed command batch from broker")
                continue
            for item in items:
                self.in_total += 1
                path, value = item[0], item[1]
                self.command_origin = tuple(item[3]) if len(item) > 3 and item[3] else ()
                if self.command_origin:
                    self._origins[path] = (list(item[3]), time.monotonic() + ORIGIN_TTL_S)
                try:
                    await self.worker.on_command(path, value)
                except CommandRejected as exc:
                    self.count_error(str(exc))
                except Exception as exc:
                    self.count_error(f"command {path}: {type(exc).__name__}: {exc}")
                    self.link.error(exc, fatal=False, where=f"on_command({path})")

    # -- counters --------------------------------------------------------------------
    def count_error(self, message: str) -> None:
        self.errors += 1
        self.last_error = message
        log.warning("%s", message)

    def counters(self) -> dict[str, Any]:
        now = time.monotonic()
        t0, in0, out0 = self._rate_mark
        dt = max(now - t0, 1e-3)
        self._rate_mark = (now, self.in_total, self.out_total)
        stats: dict[str, Any] = {}
        if self.worker is not None:
            try:
                stats = self.worker.stats()
            except Exception as exc:
                stats = {"stats_error": str(exc)}
        return {"pps_in": round((self.in_total - in0) / dt, 1),
                "pps_out": round((self.out_total - out0) / dt, 1),
                "in_total": self.in_total, "out_total": self.out_total,
                "dropped": self.dropped, "queued": self._queued,
                "error_count": self.errors, "last_error": self.last_error, "bus": stats}

    # -- lifecycle -------------------------------------------------------------------
    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if exc is None:
            log.error("%s", context.get("message"))
            return
        self.count_error(f"{type(exc).__name__}: {exc}")
        self.link.error(exc, fatal=False, where="event loop")

    async def main(self) -> int:
        """Run until SIGTERM (exit 0) or until the worker fails (exit 1)."""
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._on_loop_error)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        self.link.hello()
        sender = asyncio.create_task(self._sender())
        heartbeat = asyncio.create_task(self.link.heartbeat_loop(self.counters))
        code = 0
        try:
            self.worker = self.worker_cls(self)
            await self.worker.setup()
            self.link.ready()
            commands = asyncio.create_task(self._commands())
            run = asyncio.create_task(self.worker.run())
            stop = asyncio.create_task(self._stop.wait())
            await asyncio.wait({run, stop}, return_when=asyncio.FIRST_COMPLETED)
            for task in (run, stop, commands):
                task.cancel()
            if run.done() and not run.cancelled() and run.exception() is not None:
                raise run.exception()  # type: ignore[misc]
            if run.done() and not self._stop.is_set():
                log.warning("worker run() returned; exiting")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.worker.teardown(), TEARDOWN_S)
        except Exception as exc:
            log.exception("worker failed")
            self.link.error(exc, fatal=True, where="run")
            code = 1
        await self._flush(1.0)
        heartbeat.cancel()
        sender.cancel()
        self.broker.close(linger=1000)
        self.link.close()
        self.ctx.term()
        return code
