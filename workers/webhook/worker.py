"""The ``webhook`` worker: every value routed to it becomes one HTTP request.

Requests go out one at a time, in arrival order, from a bounded queue on disk
(:mod:`edgeos.ipc.storage.queue`, ``<data>/webhook/<id>.db``), so a restart or a crash
loses nothing that waits: delivery resumes in order (at least once: a request cut off
by a crash is sent again). A failed one is retried with exponential back-off before the
next is sent. When the queue is full the oldest waiting value is dropped and counted
(``dropped`` in stats), never silently.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, NamedTuple

from edgeos.ipc.protocol import now_ms
from edgeos.ipc.storage.queue import DurableQueue
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
        self.queue = DurableQueue(Path(self.spec.data_dir) / "webhook" / f"{self.id}.db",
                                  int(c["queue_max"]), name="webhook-queue")
        await self.queue.open()
        self._wake = asyncio.Event()
        self.sent = 0
        self.failed = 0
        self.retried = 0
        self.latency_ms: float | None = None
        self.last_status: str | None = None

    async def on_command(self, path: str, value: Any) -> None:
        origin = self.runtime.command_origin
        await self.queue.append([[path, value, now_ms(), origin[-1] if origin else ""]])
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            entries = await self.queue.peek(1, hold=True)
            if not entries:
                await self._wake.wait()
                continue
            await self._deliver(Pending(*entries[0].item))
            await self.queue.delete_upto(entries[0].id)

    async def teardown(self) -> None:
        await self.queue.close()

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
                self.command_done(item.path)
                return
            self.log.info("%s %s failed (attempt %d): %s", self.method, url, attempt + 1,
                          outcome.detail)
            if not outcome.retry:
                break
        self.failed += 1
        self.count_error(f"{self.method} {url}: {outcome.detail}")
        self.command_done(item.path, f"{self.id}.{item.path}: {self.method} {url}: "
                                     f"{outcome.detail}")

    def stats(self) -> dict[str, Any]:
        return {"queued": self.queue.waiting, "sent": self.sent, "failed": self.failed,
                "retried": self.retried, "dropped": self.queue.dropped,
                "latency_ms": self.latency_ms,
                "last_status": self.last_status, "packets_sent": self.sent + self.failed}
