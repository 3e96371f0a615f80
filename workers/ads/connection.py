"""The link to one PLC over pyads, and the thread hops around it.

pyads blocks, and calls notification callbacks from AdsLib's own thread. Every request
runs on one daemon thread of its own (:class:`AdsThread`), in order, so the event loop
never waits on the PLC and a hung request cannot hold up the process exit. Notifications
hop onto the event loop through :class:`Inbox`.

AdsLib's in-process router on Linux needs a route (net id -> IP) per PLC and a local net
id; :meth:`AdsLink.open` sets both, and optionally registers this host in the PLC's own
route table with the PLC's credentials (``route``), as TwinCAT requires of a new client.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import queue
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyads
from edgeos.workers.ads.symbols import (
    DataType,
    SymbolEntry,
    UploadError,
    parse_datatype_upload,
    parse_symbol_upload,
)
from pyads import constants
from pyads.structs import SAdsNotificationHeader, SAdsSumRequest

log = logging.getLogger(__name__)

ADS_TCP_PORT = 48898
SUM_MAX = 500  # sub-requests per sum read: TwinCAT's limit
_DATA_OFFSET = SAdsNotificationHeader.data.offset

Sink = Callable[[tuple[int, int], bytes], None]


class LinkError(Exception):
    """The PLC did not answer, refused a request, or is not connected."""


class AdsThread:
    """Runs blocking calls one after another on a daemon thread; awaitable results."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, args, loop, fut = job
            try:
                result, error = fn(*args), None
            except BaseException as exc:
                result, error = None, exc
            with contextlib.suppress(RuntimeError):  # the loop is gone: process stopping
                loop.call_soon_threadsafe(_settle, fut, result, error)

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._jobs.put((fn, args, loop, fut))
        return await fut

    def close(self) -> None:
        self._jobs.put(None)


def _settle(fut: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if fut.cancelled():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


class Inbox:
    """Carries notifications from AdsLib's thread onto the event loop, in order, with one
    wake-up per burst rather than one per notification."""

    def __init__(self, loop: asyncio.AbstractEventLoop, handler: Callable[..., None]) -> None:
        self._loop = loop
        self._handler = handler
        self._items: deque[tuple[Any, ...]] = deque()
        self._scheduled = False

    def push(self, *item: Any) -> None:
        """Called from any thread."""
        self._items.append(item)
        if not self._scheduled:
            self._scheduled = True
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        self._scheduled = False  # before draining: a push racing with us schedules anew
        items = self._items
        while items:
            self._handler(*items.popleft())


class Backoff:
    """Exponential reconnect delays: ``first``, doubled each failure, capped at ``limit``."""

    def __init__(self, first: float, limit: float) -> None:
        self.first = first
        self.limit = max(limit, first)
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.limit)
        return delay

    def reset(self) -> None:
        self._next = self.first


@dataclass(frozen=True)
class AdsTarget:
    """Where a PLC is and how to reach it: the worker and the browse job read it from an
    instance config (its defaults filled from the manifest) the same way."""

    net_id: str
    port: int
    host: str
    local_net_id: str | None = None
    timeout_s: float = 2.0
    route: dict[str, Any] | None = None

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> AdsTarget:
        """The target of an ``ads`` instance config; the host defaults to the first four
        bytes of the AMS Net ID (the usual TwinCAT setup)."""
        net_id = cfg["ams_net_id"]
        return cls(net_id, int(cfg["ams_port"]),
                   cfg.get("host") or ".".join(net_id.split(".")[:4]),
                   local_net_id=cfg.get("local_net_id"), timeout_s=float(cfg["timeout_s"]),
                   route=cfg.get("route"))


class AdsLink:
    """One PLC connection. Every method blocks: call them on the :class:`AdsThread`."""

    _local_net_id: str | None = None  # AdsLib's router is one per process

    def __init__(self, target: AdsTarget) -> None:
        self.target = target
        self._route_added = False
        self.conn: pyads.Connection | None = None
        self._notes: list[int] = []
        self.requests = 0
        self.busy_s = 0.0

    # -- connection ------------------------------------------------------------------
    def open(self) -> None:
        """Connect, or raise LinkError with the reason."""
        try:
            with socket.create_connection((self.target.host, ADS_TCP_PORT),
                                          self.target.timeout_s) as probe:
                local_ip = probe.getsockname()[0]
        except OSError as exc:  # AdsLib would block on an unreachable host; fail fast
            raise LinkError(f"cannot reach {self.target.host}:{ADS_TCP_PORT}: {exc}") from None
        local = self.target.local_net_id or f"{local_ip}.1.1"
        if AdsLink._local_net_id != local:
            pyads.set_local_address(local)
            AdsLink._local_net_id = local
        if self.target.route and not self._route_added:
            self._add_route(local, local_ip)
        conn = pyads.Connection(self.target.net_id, self.target.port, self.target.host)
        try:
            conn.open()
        except pyads.ADSError as exc:
            raise LinkError(f"cannot open a route to {self.target.net_id}: "
                            f"{_ads_text(exc)}") from None
        self.conn = conn
        conn.set_timeout(int(self.target.timeout_s * 1000))
        try:
            self.read_state()
        except LinkError:
            self.close()
            raise

    def _add_route(self, local_net_id: str, local_ip: str) -> None:
        """Enter this host into the PLC's route table (UDP 48899, PLC credentials)."""
        route = self.target.route or {}
        try:
            accepted = pyads.add_route_to_plc(
                local_net_id, route.get("hostname") or local_ip, self.target.host,
                route["username"], route["password"],
                route_name=route.get("route_name") or f"edgeos-{socket.gethostname()}")
        except (OSError, RuntimeError) as exc:
            raise LinkError(f"adding a route on the PLC failed: {exc}") from None
        if not accepted:
            raise LinkError("the PLC refused the route: wrong username or password")
        self._route_added = True

    def close(self) -> None:
        """Drop notifications first: closing AdsLib's port after its route is gone
        crashes the process."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        for handle in self._notes:
            with contextlib.suppress(pyads.ADSError, OSError, RuntimeError):
                conn.del_device_notification(handle, None)
        self._notes.clear()
        with contextlib.suppress(pyads.ADSError, OSError, RuntimeError):
            conn.close()

    # -- requests --------------------------------------------------------------------
    def _req(self, fn: Callable[[pyads.Connection], Any]) -> Any:
        conn = self.conn
        if conn is None:
            raise LinkError("not connected")
        t0 = time.perf_counter()
        try:
            return fn(conn)
        except pyads.ADSError as exc:
            raise LinkError(_ads_text(exc)) from None
        except (OSError, RuntimeError, TypeError) as exc:
            raise LinkError(str(exc)) from None
        finally:
            self.requests += 1
            self.busy_s += time.perf_counter() - t0

    def read_state(self) -> None:
        self._req(lambda c: c.read_state())

    def read(self, group: int, offset: int, size: int, exact: bool = True) -> bytes:
        return bytes(self._req(lambda c: c.read(group, offset, ctypes.c_ubyte * size,
                                                return_ctypes=True, check_length=exact)))

    def write(self, group: int, offset: int, data: bytes) -> None:
        buf = (ctypes.c_ubyte * len(data)).from_buffer_copy(data)
        self._req(lambda c: c.write(group, offset, buf, type(buf)))

    def sum_read(self, items: list[tuple[int, int, int]]) -> list[bytes | None]:
        """Many (group, offset, size) reads in few requests; None where the PLC refused."""
        out: list[bytes | None] = []
        for i in range(0, len(items), SUM_MAX):
            chunk = items[i:i + SUM_MAX]
            count = len(chunk)
            req = (SAdsSumRequest * count)()
            for slot, (group, offset, size) in zip(req, chunk, strict=True):
                slot.iGroup, slot.iOffset, slot.size = group, offset, size
            raw = bytes(self._req(lambda c, req=req, n=count: c.read_write(
                constants.ADSIGRP_SUMUP_READ, n, None, req, None, True, False)))
            if len(raw) < 4 * count + sum(size for _, _, size in chunk):
                raise LinkError(f"sum read answered with {len(raw)} bytes, too few")
            errors = struct.unpack_from(f"<{count}I", raw)
            pos = 4 * count
            for (_, _, size), error in zip(chunk, errors, strict=True):
                out.append(None if error else raw[pos:pos + size])
                pos += size
        return out

    def upload(self) -> tuple[list[SymbolEntry], dict[str, DataType]]:
        """The symbol table and, where the PLC offers one, its data type table."""
        info = self.read(constants.ADSIGRP_SYM_UPLOADINFO2, 0, 24, exact=False).ljust(16, b"\0")
        _, sym_size, _, dt_size = struct.unpack_from("<4I", info)
        try:
            symbols = parse_symbol_upload(
                self.read(constants.ADSIGRP_SYM_UPLOAD, 0, sym_size)) if sym_size else []
        except UploadError as exc:
            raise LinkError(f"symbol upload: {exc}") from None
        types: dict[str, DataType] = {}
        if dt_size:
            try:
                types = parse_datatype_upload(
                    self.read(constants.ADSIGRP_SYM_DT_UPLOAD, 0, dt_size))
            except (LinkError, UploadError) as exc:  # scalars still work without it
                log.warning("data type upload from %s failed: %s", self.target.net_id, exc)
        return symbols, types

    def add_notifications(self, blocks: list[tuple[int, int, int]], cycle_ms: float,
                          sink: Sink) -> dict[tuple[int, int], str]:
        """On-change notifications for each (group, offset, size); ``sink`` receives
        ((group, offset), data) on AdsLib's thread. Returns the ones the PLC refused
        (it has a limit of handles), with the reason."""
        refused: dict[tuple[int, int], str] = {}
        for group, offset, size in blocks:
            key = (group, offset)

            def callback(notification: Any, _name: Any, key: tuple[int, int] = key) -> None:
                header = notification.contents
                sink(key, ctypes.string_at(ctypes.addressof(header) + _DATA_OFFSET,
                                           header.cbSampleSize))

            attr = pyads.NotificationAttrib(size, constants.ADSTRANS_SERVERONCHA,
                                            max_delay=cycle_ms, cycle_time=cycle_ms)
            try:
                handle, _ = self._req(lambda c, a=attr, k=key, cb=callback:
                                      c.add_device_notification(k, a, cb))
            except LinkError as exc:
                refused[key] = str(exc)
                continue
            self._notes.append(handle)
        if refused and len(refused) == len(blocks):
            self.read_state()  # none taken: tell a lost link from a PLC that says no
        return refused


def _ads_text(exc: pyads.ADSError) -> str:
    code = getattr(exc, "err_code", None)
    text = (getattr(exc, "msg", "") or str(exc)).strip().rstrip(".")
    return text if code is None or str(code) in text else f"{text} ({code})"
