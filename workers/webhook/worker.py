"""The ``webhook`` worker: every value routed to it becomes one HTTP request.

Requests go out one at a time, in arrival order, from a bounded queue; a failed one is
retried with exponential back-off before the next is sent. When the queue is full the
oldest waiting value is dropped and counted (``dropped`` in stats), never silently.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any, NamedTuple

from edgeos.ipc.protocol import now_ms
from edgeos.workers.runtime import Worker
from edgeos.workers.webhook import template
from edgeos.workers.webhook.delivery import Outcome, send


class Pending(NamedTuple):
    path: str
    value: Any
    ts: int
    source: str  # the address the routed value came from ("" for a direct set)


class WebhookWorker(Worker):
    """POSTs (or PUTs, ...) routed values to ``url``."""

    type_name = "webhook"

    async def setup(self) -> None:
        c = self.config
        self.url: str = c["url"]
        self.method = str(c["method"]).upper()
        self.body_template: str | None = c.get("body")
        self.headers = {str(k): str(v) for k, v in (c.get("headers") or {}).items()}
        if self.method not in ("GET", "DELETE") and not any(
                k.lower() == "content-type" for k in self.headers):
            self.headers["Content-Type"] = "application/json"
        self.timeout_s = float(c["timeout_s"])
        self.retries = int(c["retries"])
        self.backoff_s = float(c["backoff_s"])
        self.backoff_max_s = float(c["backoff_max_s"])
        self.queue: deque[Pending] = deque()
        self.queue_max = int(c["queue_max"])
        self._wake = asyncio.Event()
        self.sent = 0
        self.failed = 0
        self.retried = 0
        self.dropped = 0
        self.latency_ms: float | None = None
        self.last_status: str | None = None

    async def on_command(self, path: str, value: Any) -> None:
        if len(self.queue) >= self.queue_max:
            self.queue.popleft()
            self.dropped += 1
        origin = self.runtime.command_origin
        self.queue.append(Pending(path, value, now_ms(), origin[-1] if origin else ""))
        self._wake.set()

    async def run(self) -> None:
        while True:
            while not self.queue:
                self._wake.clear()
                await self._wake.wait()
            await self._deliver(self.queue.popleft())

    async def _deliver(self, item: Pending) -> None:
        values = template.fields(self.id, item.path, item.value, item.ts, item.source)
        url = template.render(self.url, values, url=True)
        data = None if self.method in ("GET", "DELETE") else template.body(
            self.body_template, values)
        outcome = Outcome(False, True, "not sent")
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
                await asyncio.sleep(min(self.backoff_s * 2 ** (attempt - 1), self.backoff_max_s))
            started = time.monotonic()
            outcome = await asyncio.to_thread(send, url, self.method, self.headers, data,
                                              self.timeout_s)
            self.latency_ms = round((time.monotonic() - started) * 1000, 1)
            self.last_status = outcome.detail
            if outcome.ok:
                self.sent += 1
                return
            self.log.info("%s %s failed (attempt %d): %s", self.method, url, attempt + 1,
                          outcome.detail)
            if not outcome.retry:
                break
        self.failed += 1
        self.count_error(f"{self.method} {url}: {outcome.detail}")

    def stats(self) -> dict[str, Any]:
        return {"queued": len(self.queue), "sent": self.sent, "failed": self.failed,
                "retried": self.retried, "dropped": self.dropped, "latency_ms": self.latency_ms,
                "last_status": self.last_status, "packets_sent": self.sent + self.failed}
