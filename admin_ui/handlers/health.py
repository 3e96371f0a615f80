"""``/health`` (no login), ``/status`` and ``/metrics`` (viewer: session or token)."""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

from edgeos.admin_ui import metrics
from edgeos.admin_ui.handlers.base import ApiError, ApiHandler
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

HEALTH_TIMEOUT_S = 2.0


class Health(ApiHandler):
    public = True
    tag = "health"

    async def get(self) -> None:
        """200 while the supervisor answers and the broker runs, else 503. No login."""
        try:
            status = await self.rpc("status", timeout=HEALTH_TIMEOUT_S)
        except ApiError as exc:
            self.send({"status": "unavailable", "detail": exc.error}, 503)
            return
        broker = next((i for i in status["instances"] if i.get("role") == "broker"), None)
        ok = broker is not None and broker["status"] == "running"
        self.send({"status": "ok" if ok else "degraded", "mode": status["mode"],
                   "broker": broker["status"] if broker else None,
                   "instances": len(status["instances"])}, 200 if ok else 503)


class Status(ApiHandler):
    tag = "health"

    async def get(self) -> None:
        """Mode (in panic: ``panic`` with who, since and why), performance profile and
        each instance's state in one small document."""
        status = await self.rpc("status")
        instances = [{k: i.get(k) for k in ("id", "type", "status", "pid", "restarts",
                                            "error_count")} for i in status["instances"]]
        self.send({"mode": status["mode"], "performance": status.get("performance"),
                   "panic": status.get("panic"),
                   "counts": dict(Counter(i["status"] for i in instances)),
                   "instances": instances})


class Metrics(ApiHandler):
    tag = "health"

    async def get(self) -> None:
        """Prometheus text: per-instance CPU, RSS, pps, restarts, errors, state; broker
        rates and drops; per-route counters."""
        status = await self.rpc("status")
        routes: dict[str, Any] | None = None
        with contextlib.suppress(ApiError):  # the broker may be down: instances still count
            routes = await self.rpc("routes", timeout=HEALTH_TIMEOUT_S)
        self.set_header("Content-Type", CONTENT_TYPE_PLAIN_0_0_4)
        self.finish(metrics.render(status["mode"], status["instances"], routes))
