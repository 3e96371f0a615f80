"""The events feed (state, stats, logs, limits, errors) on an XPUB socket.

XPUB rather than PUB because it tells us which topic prefixes someone has subscribed
to: the supervisor then does not even build the 1 Hz ``stats`` message (a status of
every instance) while nobody, e.g. no admin UI, listens. Subscriptions arrive as
messages on the socket and are read when its fd signals, like the worker channel.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import zmq
from edgeos.ipc import protocol
from edgeos.supervisor.seam import System


class Feed:
    def __init__(self, sock: zmq.Socket, system: System) -> None:
        self.sock = sock
        self.sys = system
        self.prefixes: set[bytes] = set()  # XPUB passes the first subscribe, last unsubscribe
        self.on_subscribe: Callable[[], None] | None = None  # (the stats pass wakes)
        self._fd = sock.getsockopt(zmq.FD)
        system.watch_fd(self._fd, self._drain)
        self._drain()

    def wants(self, topic: str) -> bool:
        """Whether any subscriber would receive ``topic``."""
        name = topic.encode()
        return any(name.startswith(prefix) for prefix in self.prefixes)

    def publish(self, topic: str, body: Any) -> None:
        with contextlib.suppress(zmq.ZMQError):
            self.sock.send_multipart([topic.encode(), protocol.pack(body)], flags=zmq.DONTWAIT)
        self._drain()  # (a send can consume the fd's edge for a pending subscription)

    def _drain(self) -> None:
        while self.sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            msg = self.sock.recv(zmq.NOBLOCK)
            if msg[:1] == b"\x01":
                self.prefixes.add(msg[1:])
                if self.on_subscribe is not None:
                    self.on_subscribe()
            elif msg[:1] == b"\x00":
                self.prefixes.discard(msg[1:])

    def close(self) -> None:
        self.sys.unwatch_fd(self._fd)
        self.sock.close(0)
