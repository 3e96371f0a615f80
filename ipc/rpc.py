"""Request/reply over a ROUTER socket, used by the control and broker-ctl endpoints.

A request is one frame ``pack({"id": n, "cmd": str, "args": {...}})``; the reply is
``pack({"id": n, "ok": True, "result": ...})`` or
``pack({"id": n, "ok": False, "error": str, "code": str, "detail": ...})``.
Every request runs in its own task on the server, so a slow command (a stop that
waits for a worker) never holds up another: there is no global command lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import zmq
import zmq.asyncio
from edgeos.ipc.protocol import pack, unpack

log = logging.getLogger(__name__)

# Error codes, mapped to edgectl exit codes and HTTP statuses by their users.
REFUSED = "refused"  # the request was understood and declined (state, permissions)
NOT_FOUND = "not_found"  # unknown instance, address, route
BAD_REQUEST = "bad_request"  # malformed arguments, invalid config
UNAVAILABLE = "unavailable"  # a needed process is down or the feature is not built
INTERNAL = "internal"
UNKNOWN_COMMAND = "unknown_command"  # the endpoint has no such command (an older daemon?)

#: per error code, the HTTP status the admin UI answers with and edgectl's exit code
#: (1: refused; 3: unreachable); an unknown code is a 500 and exit 1
STATUS: dict[str, tuple[int, int]] = {
    REFUSED: (409, 1), NOT_FOUND: (404, 1), BAD_REQUEST: (400, 1), UNAVAILABLE: (503, 1),
    INTERNAL: (500, 1), UNKNOWN_COMMAND: (501, 1)}


class RpcError(Exception):
    """A refused request; ``code`` is one of the constants above."""

    def __init__(self, message: str, code: str = REFUSED, detail: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.detail = detail


Handler = Callable[[str, dict[str, Any]], Awaitable[Any]]


class RpcServer:
    """Serve requests arriving on a bound ROUTER socket with ``handler(cmd, args)``."""

    def __init__(self, sock: zmq.asyncio.Socket, handler: Handler) -> None:
        self._sock = sock
        self._handler = handler
        self._tasks: set[asyncio.Task[None]] = set()

    async def serve(self) -> None:
        while True:
            frames = await self._sock.recv_multipart()
            if len(frames) != 2:
                continue
            task = asyncio.create_task(self._answer(frames[0], frames[1]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, ident: bytes, raw: bytes) -> None:
        req_id, reply = None, None
        try:  # the envelope is the client's part: anything wrong here is its fault
            req = unpack(raw)
            if not isinstance(req, dict):
                raise TypeError("not a map")
            req_id = req.get("id")
            cmd, args = req.get("cmd"), req.get("args") or {}
            if not isinstance(cmd, str) or not isinstance(args, dict) \
                    or not all(isinstance(k, str) for k in args):
                raise TypeError("cmd must be a string and args a map with string keys")
        except (ValueError, TypeError) as exc:
            reply = {"id": req_id if isinstance(req_id, int | str) else None, "ok": False,
                     "error": f"malformed request: {exc}", "code": BAD_REQUEST,
                     "detail": None}
        if reply is None:
            reply = await self._call(req_id, cmd, args)
        with contextlib.suppress(zmq.ZMQError):
            await self._sock.send_multipart([ident, pack(reply)])

    async def _call(self, req_id: Any, cmd: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run one command. Its declared arguments are checked before it runs
        (:mod:`edgeos.ipc.commands`) and a refusal is an :class:`RpcError`; anything else
        raised is a bug: ``internal``, logged with its traceback, never passed off as the
        caller's bad request."""
        try:
            return {"id": req_id, "ok": True, "result": await self._handler(cmd, args)}
        except RpcError as exc:
            return {"id": req_id, "ok": False, "error": str(exc), "code": exc.code,
                    "detail": exc.detail}
        except Exception as exc:  # a bug in a command must not take the endpoint down
            log.exception("command %r failed", cmd)
            return {"id": req_id, "ok": False, "error": f"internal error in {cmd!r}: "
                    f"{type(exc).__name__}: {exc}", "code": INTERNAL, "detail": None}


def _result(reply: dict[str, Any]) -> Any:
    if reply.get("ok"):
        return reply.get("result")
    raise RpcError(reply.get("error", "error"), reply.get("code", REFUSED), reply.get("detail"))


class AsyncRpcClient:
    """Many concurrent calls over one DEALER socket, matched by request id."""

    def __init__(self, ctx: zmq.asyncio.Context, endpoint: str, timeout: float = 10.0) -> None:
        self._sock = ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(endpoint)
        self._timeout = timeout
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def call(self, cmd: str, timeout: float | None = None, **args: Any) -> Any:
        if self._reader is None:
            self._reader = asyncio.create_task(self._read())
        req_id = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        try:
            await self._sock.send(pack({"id": req_id, "cmd": cmd, "args": args}))
            reply = await asyncio.wait_for(fut, timeout or self._timeout)
        except TimeoutError:
            raise RpcError(f"no answer to {cmd!r}", UNAVAILABLE) from None
        finally:
            self._pending.pop(req_id, None)
        return _result(reply)

    async def _read(self) -> None:
        while True:
            try:
                reply = unpack(await self._sock.recv())
            except ValueError:
                continue
            fut = self._pending.get(reply.get("id"))
            if fut is not None and not fut.done():
                fut.set_result(reply)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        self._sock.close(0)


class RpcClient:
    """Blocking client for command-line use: one call at a time."""

    def __init__(self, endpoint: str, timeout: float = 10.0) -> None:
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(endpoint)
        self._timeout = timeout
        self._ids = itertools.count(1)

    def call(self, cmd: str, timeout: float | None = None, **args: Any) -> Any:
        req_id = next(self._ids)
        self._sock.send(pack({"id": req_id, "cmd": cmd, "args": args}))
        deadline_ms = int((timeout or self._timeout) * 1000)
        while self._sock.poll(deadline_ms):
            reply = unpack(self._sock.recv())
            if reply.get("id") == req_id:
                return _result(reply)
        raise RpcError(f"no answer to {cmd!r} within {timeout or self._timeout:g} s", UNAVAILABLE)

    def close(self) -> None:
        self._sock.close(0)
        self._ctx.term()
