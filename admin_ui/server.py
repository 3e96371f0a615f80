"""The admin UI process: Tornado on the configured host/port, talking to the
supervisor's control endpoint like any other client."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import tornado.web
import zmq.asyncio

from ipc import addresses
from ipc.child import InstanceSpec, SupervisorLink
from ipc.rpc import AsyncRpcClient, RpcError

log = logging.getLogger("admin_ui")


class HealthHandler(tornado.web.RequestHandler):
    """``GET /health``: 200 when the supervisor answers, 503 otherwise. No auth."""

    async def get(self) -> None:
        control: AsyncRpcClient = self.settings["control"]
        try:
            status = await control.call("status", timeout=2.0)
        except RpcError as exc:
            self.set_status(503)
            self.write({"status": "unavailable", "detail": str(exc)})
            return
        self.write({"status": "ok", "mode": status["mode"],
                    "instances": len(status["instances"])})


def make_app(control: AsyncRpcClient) -> tornado.web.Application:
    return tornado.web.Application([(r"/health", HealthHandler)], control=control)


async def serve(spec: InstanceSpec) -> int:
    ctx = zmq.asyncio.Context()
    link = SupervisorLink(ctx, spec)
    link.hello()
    control = AsyncRpcClient(ctx, addresses.endpoint(spec.run_dir, addresses.CONTROL))
    web: dict[str, Any] = spec.extra.get("web", {})
    host, port = web.get("host", "127.0.0.1"), int(web.get("port", 8080))
    if host in ("0.0.0.0", "::", ""):
        log.warning("admin UI bound to all interfaces (%s): reachable from the network", host)
    server = make_app(control).listen(port, address=host)
    log.info("admin UI on http://%s:%d", host, port)
    heartbeat = asyncio.create_task(link.heartbeat_loop(lambda: {}))
    link.ready()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    heartbeat.cancel()
    control.close()
    link.close()
    ctx.term()
    return 0
