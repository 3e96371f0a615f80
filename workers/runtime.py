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
import itertools
import logging
import signal
import time
from collections import deque
from typing import Any, ClassVar

import zmq
import zmq.asyncio
from edgeos.ipc import addresses, low_power, protocol
from edgeos.ipc.child import InstanceSpec, SupervisorLink
from edgeos.ipc.rpc import UNAVAILABLE, RpcError

log = logging.getLogger(__name__)

TRAFFIC_TOTALS = frozenset({"packets_sent", "packets_recv"})  # every type's bus totals

BATCH_MAX = 1000  # datapoints per DP message
OUTBOX_MAX = 100_000  # datapoints buffered while the broker is away
OUTBOX_MAX_LOW_POWER = 10_000  # the same on the LOW_POWER profile
QUERY_TIMEOUT_S = 5.0  # a query the broker does not answer in this time is unavailable
TEARDOWN_S = 2.0
ORIGIN_TTL_S = 5.0  # how long a command's origin sticks to the value reported back


PENDING_MAX = 1000  # commands waiting for their device report (bounded by the worker)
PENDING_TTL_S = 120.0  # a report later than this no longer confirms the command


class CommandRejected(Exception):
    """A command the worker cannot carry out. Raise a subclass from ``on_command``: its
    ``refusal`` travels back to whoever wrote (CLI, API, UI, route, bridge)."""

    refusal = protocol.DEVICE_ERROR


class BadValue(CommandRejected):
    """The value does not fit the datapoint (type, range, encoding)."""

    refusal = protocol.BAD_VALUE


class ReadOnly(CommandRejected):
    """The datapoint exists and cannot be written."""

    refusal = protocol.READ_ONLY


class UnknownDatapoint(CommandRejected):
    """The instance has no such datapoint."""

    refusal = protocol.UNKNOWN_DATAPOINT


class DeviceError(CommandRejected):
    """The device or its link failed or said no."""

    refusal = protocol.DEVICE_ERROR


class Worker:
    """Base class of every worker type.

    Subclasses set ``type_name``. The JSON Schema of the instance's ``config`` lives in
    the type package's ``manifest.json``, read by the supervisor without importing
    the worker (and its device libraries).
    """

    type_name: ClassVar[str] = ""
    #: keys of ``stats()`` (at any depth) that only count traffic, like ``packets_sent``:
    #: they ride along with a heartbeat but never cause one (ipc/heartbeat.py); a total
    #: grows with every message, its rate (``..._per_s``) says when the traffic changed
    totals: ClassVar[frozenset[str]] = frozenset()

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
        """A command (ack false) routed to ``<id>.<path>``. Carry it out and report the
        device's new value with :meth:`publish` (now or when the device tells), or raise
        a :class:`CommandRejected` subclass saying why not."""
        raise ReadOnly(f"{self.id}.{path} is read-only: {self.type_name or 'this type'} "
                       "takes no commands")

    def on_write_refused(self, address: str, refusal: str, message: str) -> None:
        """A command this worker sent (:meth:`Runtime.send_commands`) was refused."""

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

    def command_done(self, path: str, failure: str | None = None) -> None:
        """For a type with nothing to report back (a webhook): the commands on ``path``
        that were accepted are now carried out (confirmed), or failed for ``failure``."""
        self.runtime.command_done(path, failure)


class Runtime:
    """One worker process: the event loop around one :class:`Worker` instance."""

    def __init__(self, spec: InstanceSpec, worker_cls: type[Worker]) -> None:
        # LOW_POWER: the worker reads (and reports) its poll intervals already multiplied
        self.poll_multiplier = low_power.poll_multiplier()
        spec.config = low_power.scale_polls(spec.config, self.poll_multiplier)
        self.outbox_max = low_power.sized(OUTBOX_MAX, OUTBOX_MAX_LOW_POWER)
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
        self._query_ids = itertools.count(1)
        self._queries: dict[int, asyncio.Future[Any]] = {}  # asked, not answered yet
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
        # Accepted commands whose caller waits for the device's report, per path:
        # [(command id, deadline)]. The next report of the path confirms them.
        self._awaiting: dict[str, list[tuple[int, float]]] = {}
        self._awaiting_n = 0
        self._sent_refs = 0
        self.refused = 0
        self.last_refusal: str | None = None

    # -- publishing ------------------------------------------------------------------
    def publish(self, path: str, value: Any, *, quality: str = "good", unit: str | None = None,
                ts: int | None = None, ack: bool = True) -> None:
        item = [path, value, ts or protocol.now_ms(), quality, ack, unit]
        if self._origins and path in self._origins:
            hops, until = self._origins.pop(path)
            if until > time.monotonic():
                item.append(hops)
        self._batch.append(item)
        if ack and self._awaiting and path in self._awaiting:
            self._confirm(path)
        elif len(self._batch) >= BATCH_MAX:
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
        """Ask the broker to deliver commands to absolute addresses (bridges, Node-RED).
        Refusals come back through :meth:`Worker.on_write_refused`."""
        items = []
        for address, value in commands:
            self._sent_refs += 1
            items.append([address, value, self._sent_refs])
        self._enqueue([protocol.CMD, protocol.pack(items)], 0)

    # -- write outcomes --------------------------------------------------------------
    def _reply(self, cmd_id: int | None, path: str, refusal: str | None,
               message: str | None, origin: Any) -> None:
        self._enqueue([protocol.REPLY, protocol.pack([[cmd_id, path, refusal, message,
                                                        origin]])], 0)

    def _confirm(self, path: str) -> None:
        """The device reported ``path``: the batch holding the report goes first, then
        the confirmation of every command on it still waited for."""
        self._cut()
        now = time.monotonic()
        for cmd_id, deadline in self._awaiting.pop(path):
            self._awaiting_n -= 1
            if deadline > now:
                self._reply(cmd_id, path, None, "confirmed", None)

    def command_done(self, path: str, failure: str | None) -> None:
        if path not in self._awaiting:
            return
        if failure is None:
            self._confirm(path)
            return
        waits = self._awaiting.pop(path)
        self._awaiting_n -= len(waits)
        for cmd_id, _ in waits:
            self._refuse(cmd_id, path, protocol.DEVICE_ERROR, failure, None)

    def _await_report(self, cmd_id: int, path: str) -> None:
        if self._awaiting_n >= PENDING_MAX:  # full: expired waits go, else all of them
            # (their callers hear "timeout", as they would from a device that is silent)
            now = time.monotonic()
            for key in list(self._awaiting):
                kept = [w for w in self._awaiting[key] if w[1] > now]
                self._awaiting_n -= len(self._awaiting[key]) - len(kept)
                if kept:
                    self._awaiting[key] = kept
                else:
                    del self._awaiting[key]
            if self._awaiting_n >= PENDING_MAX:
                self._awaiting.clear()
                self._awaiting_n = 0
        self._awaiting.setdefault(path, []).append((cmd_id, time.monotonic() + PENDING_TTL_S))
        self._awaiting_n += 1

    def _refuse(self, cmd_id: int | None, path: str, refusal: str, message: str,
                origin: Any) -> None:
        self.refused += 1
        self.last_refusal = message
        self._origins.pop(path, None)
        self.count_error(message)  # the instance's last error too: someone should look
        self._reply(cmd_id, path, refusal, message, list(origin) if origin else None)

    def _on_replies(self, body: bytes) -> None:
        """Refusals of commands this worker sent: ``[ref, address, refusal, message, _]``."""
        assert self.worker is not None
        for _ref, address, refusal, message, *_ in protocol.unpack(body):
            self.worker.on_write_refused(str(address), str(refusal), str(message))

    async def query(self, what: str, timeout: float = QUERY_TIMEOUT_S, **args: Any) -> Any:
        """Ask the broker about the system over this worker's own link (bridges: the
        ``instances`` and their ``datapoints``); RpcError (unavailable) without an answer."""
        qid = next(self._query_ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queries[qid] = fut
        try:
            self._enqueue([protocol.QUERY, protocol.pack({"id": qid, "what": what, **args})], 0)
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise RpcError(f"no answer from the broker to {what!r}", UNAVAILABLE) from None
        finally:
            self._queries.pop(qid, None)

    def _on_answer(self, body: bytes) -> None:
        answer = protocol.unpack(body)
        fut = self._queries.get(answer.get("id")) if isinstance(answer, dict) else None
        if fut is not None and not fut.done():
            fut.set_result(answer.get("result"))

    def _cut(self) -> None:
        self._cut_scheduled = False
        if self._batch:
            batch, self._batch = self._batch, []
            self._enqueue([protocol.DP, protocol.pack(batch)], len(batch))

    def _enqueue(self, frames: list[bytes], dps: int) -> None:
        self._outbox.append(frames)
        self._outbox_dps.append(dps)
        self._queued += dps
        while self._queued > self.outbox_max and len(self._outbox) > 1:
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
            if len(frames) < 2 or frames[0] not in (protocol.CMD, protocol.REPLY,
                                                    protocol.ANSWER):
                continue
            try:
                if frames[0] == protocol.REPLY:
                    self._on_replies(frames[1])
                    continue
                if frames[0] == protocol.ANSWER:
                    self._on_answer(frames[1])
                    continue
                items = protocol.unpack(frames[1])
            except (ValueError, TypeError):
                self.count_error("malformed command batch from broker")
                continue
            for item in items:
                await self._command(item)

    async def _command(self, item: Any) -> None:
        """Carry out one command and answer: accepted (then confirmed by the device's
        report) or refused with a reason. Commands without an id (routes) are answered
        only when refused."""
        assert self.worker is not None
        self.in_total += 1
        path, value = item[0], item[1]
        origin = item[3] if len(item) > 3 and item[3] else ()
        cmd_id = item[4] if len(item) > 4 else None
        self.command_origin = tuple(origin)
        if origin:
            self._origins[path] = (list(origin), time.monotonic() + ORIGIN_TTL_S)
        self._cut()  # what was reported before the command goes out before its answer
        if cmd_id is not None:
            self._await_report(cmd_id, path)
        try:
            await self.worker.on_command(path, value)
        except CommandRejected as exc:
            self._forget(cmd_id, path)
            self._refuse(cmd_id, path, exc.refusal, str(exc), origin)
            return
        except Exception as exc:
            self._forget(cmd_id, path)
            self.count_error(f"command {path}: {type(exc).__name__}: {exc}")
            self.link.error(exc, fatal=False, where=f"on_command({path})")
            self._refuse(cmd_id, path, protocol.DEVICE_ERROR,
                         f"{self.spec.id}.{path}: {type(exc).__name__}: {exc}", origin)
            return
        if cmd_id is not None and self._waiting(cmd_id, path):
            self._reply(cmd_id, path, None, "accepted", None)

    def _waiting(self, cmd_id: int, path: str) -> bool:
        return any(w[0] == cmd_id for w in self._awaiting.get(path, ()))

    def _forget(self, cmd_id: int | None, path: str) -> None:
        waits = self._awaiting.get(path)
        if cmd_id is None or not waits:
            return
        kept = [w for w in waits if w[0] != cmd_id]
        self._awaiting_n -= len(waits) - len(kept)
        if kept:
            self._awaiting[path] = kept
        else:
            del self._awaiting[path]

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
                "error_count": self.errors, "last_error": self.last_error,
                "bus": {**stats, "commands_refused": self.refused,
                        "last_refusal": self.last_refusal,
                        "poll_multiplier": self.poll_multiplier}}

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
        heartbeat = asyncio.create_task(self.link.heartbeat_loop(
            self.counters, ride_along=TRAFFIC_TOTALS | self.worker_cls.totals))
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
