"""Ordered, at-least-once delivery of the bridge's messages to the MQTT broker.

Fast path: while connected and nothing waits in the offline queue, messages go straight
to the client (QoS 1). Otherwise they are appended to the SQLite queue, which is drained
in id order, one window at a time, and a window is deleted only once the broker has
acknowledged all of it. A window is handed over only when everything handed over before
it is acknowledged (paho resends those itself after a reconnect), so the broker sees
messages in the order they were put, across outages and restarts of the bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from edgeos.workers.mqtt.client import MqttLink
from edgeos.workers.mqtt_bridge.queue import Message, OfflineQueue

QOS = 1
WINDOW = 500  # queued rows handed to the client per round trip
DIRECT_MAX = 1000  # unacknowledged fast-path messages before new ones queue on disk


class Outbox:
    def __init__(self, link: MqttLink, queue: OfflineQueue, log: logging.Logger) -> None:
        self.link = link
        self.queue = queue
        self.log = log
        self._inflight: set[int] = set()
        self._settled = asyncio.Event()
        self._settled.set()
        self._wake = asyncio.Event()
        self._appending = 0
        self._draining = False
        # after a connection loss paho resends what was in flight once it reconnects; new
        # messages must not overtake those, so they queue until all are acknowledged
        self._hold = False
        self.delivered = 0
        self.rejected = 0

    def put(self, messages: list[Message]) -> None:
        """Send ``messages`` after everything put before them."""
        if not messages:
            return
        direct = (self.link.connected and not self._draining and not self._hold
                  and self._appending == 0 and self.queue.size == 0
                  and len(self._inflight) + len(messages) <= DIRECT_MAX)
        if direct:
            for message in messages:
                self._send(message.topic, message.payload, message.retain)
            return
        self._appending += 1
        self.queue.append(messages).add_done_callback(self._appended)

    def _appended(self, task: asyncio.Future[int]) -> None:
        self._appending -= 1
        if not task.cancelled() and task.exception() is not None:
            self.log.error("offline queue append failed: %s", task.exception())
        elif not task.cancelled() and task.result():
            self.log.warning("offline queue full: dropped %d oldest messages (%d in total)",
                             task.result(), self.queue.dropped)
        self._wake.set()

    def _send(self, topic: str, payload: bytes, retain: bool) -> None:
        mid = self.link.publish(topic, payload, QOS, retain)
        if mid is None:
            self.rejected += 1
            return
        self._inflight.add(mid)
        self._settled.clear()

    def acked(self, mid: int, ok: bool) -> None:
        """The broker acknowledged (or refused) message ``mid``."""
        if mid not in self._inflight:
            return
        self._inflight.discard(mid)
        if ok:
            self.delivered += 1
        else:
            self.rejected += 1
        if not self._inflight:
            self._hold = False
            self._settled.set()

    def connection_changed(self, connected: bool) -> None:
        if connected:
            self._wake.set()
        else:
            self._hold = bool(self._inflight)

    async def run(self) -> None:
        """Drain the offline queue whenever the broker is reachable."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.link.connected:
                await self._drain()

    async def _drain(self) -> None:
        self._draining = True
        try:
            while True:
                await self._settled.wait()  # what went out before the queue goes first
                rows = await self.queue.peek(WINDOW)  # sees every append put before it
                if not rows:
                    return
                for row in rows:
                    self._send(row.topic, row.payload, row.retain)
                await self._settled.wait()
                await self.queue.delete_upto(rows[-1].id)
        finally:
            self._draining = False

    async def settle(self, timeout: float) -> None:
        """Wait (bounded) until the broker has acknowledged what was handed over."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), timeout)

    def stats(self) -> dict[str, Any]:
        return {"queued": self.queue.size, "queue_dropped": self.queue.dropped,
                "in_flight": len(self._inflight), "delivered": self.delivered,
                "rejected": self.rejected}
