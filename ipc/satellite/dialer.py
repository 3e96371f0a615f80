"""The dialling end of a CURVE link to a core's satellite listener.

Shared by the satellite uplink (``uplink.py``) and the HA standby's mirror
(``ipc/ha/mirror.py``): both learn the peer's key from its key service on first use,
dial a CURVE DEALER authenticated by this node's key, watch it with a socket monitor
(never polling), read ``[kind, body, ...]`` messages and live until signalled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio
from edgeos.ipc import protocol
from edgeos.ipc.child import stop_signalled
from edgeos.ipc.satellite import keys, wire
from zmq.utils.monitor import recv_monitor_message

#: what the link's state is made of: up, lost, and the ways a handshake fails
LINK_EVENTS = (zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED
               | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
               | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
KEY_WAIT_S = 2.0


async def ask_key(ctx: zmq.asyncio.Context, key_service: str, what: str) -> bytes | None:
    """The public key a core announces on its key service (port + 1), or None when it
    does not answer in time or answers something that is not a key (``what`` names it
    in the error)."""
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, 4096)
    sock.connect(key_service)
    try:
        await sock.send(b"key")
        reply = protocol.unpack(await asyncio.wait_for(sock.recv(), KEY_WAIT_S))
        return keys.check_key(str(reply["key"]), what)
    except (TimeoutError, ValueError, KeyError, TypeError):
        return None
    finally:
        sock.close(0)


class Dialer:
    """A CURVE DEALER to ``endpoint`` pinning ``server_key``, with its monitor."""

    def __init__(self, ctx: zmq.asyncio.Context, data_dir: Path | str, endpoint: str,
                 server_key: bytes) -> None:
        public, secret = keys.load_node_keys(Path(data_dir))
        sock = ctx.socket(zmq.DEALER)
        wire.link_options(sock)
        sock.setsockopt(zmq.IMMEDIATE, 1)  # nothing queued on a link not yet up
        sock.setsockopt(zmq.CONNECT_TIMEOUT, wire.CONNECT_TIMEOUT_MS)
        sock.curve_publickey, sock.curve_secretkey = public, secret
        sock.curve_serverkey = server_key
        self.monitor = sock.get_monitor_socket(LINK_EVENTS)
        sock.connect(endpoint)
        self.sock = sock

    def send(self, kind: bytes, *parts: Any) -> bool:
        """``[kind, packed part, ...]`` without waiting; False if it could not go."""
        return wire.try_send(self.sock, [kind, *(protocol.pack(p) for p in parts)])

    async def messages(self) -> AsyncIterator[tuple[bytes, Any, list[bytes]]]:
        """``(kind, body, frames)`` of every message; short or undecodable ones are
        skipped (a peer's bug must not end the link)."""
        while True:
            frames = await self.sock.recv_multipart()
            if len(frames) < 2:
                continue
            try:
                body = protocol.unpack(frames[1])
            except ValueError:
                continue
            yield frames[0], body, frames

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """The monitor's events (:data:`LINK_EVENTS`) as they come."""
        while True:
            yield await recv_monitor_message(self.monitor)

    def close(self) -> None:
        self.sock.disable_monitor()
        self.sock.close(0)
        self.monitor.close(0)


class LinkState:
    """A link's state and why, logged once per change (the bad states as warnings)."""

    def __init__(self, log: logging.Logger, bad: Iterable[str]) -> None:
        self.log = log
        self.bad = frozenset(bad)
        self.state = "connecting"
        self.reason = ""

    def set(self, what: str, state: str, reason: str = "") -> None:
        """``what`` names the link in the log line (its peer may change)."""
        if (state, reason) != (self.state, self.reason):
            level = logging.WARNING if state in self.bad else logging.INFO
            self.log.log(level, "%s: %s%s", what, state, f" ({reason})" if reason else "")
        self.state, self.reason = state, reason


async def run_until_stopped(coros: Iterable[Any]) -> set[asyncio.Task[Any]]:
    """Run ``coros`` until SIGTERM/SIGINT or until one of them ends; cancel the others.
    Returns the tasks that ended, for :func:`raise_failed` once the caller has closed
    its sockets."""
    tasks = [asyncio.create_task(c) for c in coros]
    waiter = asyncio.create_task(stop_signalled())
    done, _ = await asyncio.wait({waiter, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    return done - {waiter}


def raise_failed(done: Iterable[asyncio.Task[Any]]) -> None:
    """Re-raise the first exception a finished task ended with."""
    for task in done:
        if task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
