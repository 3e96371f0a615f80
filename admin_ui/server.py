"""The admin UI process: Tornado on the configured host/port, a client of the
supervisor's control endpoint and events feed and of the broker's change feed."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
from pathlib import Path
from typing import Any

import zmq.asyncio
from edgeos.admin_ui.app import make_app
from edgeos.admin_ui.context import Ui
from edgeos.admin_ui.handlers.base import MAX_UPLOAD
from edgeos.admin_ui.hostcheck import HostPolicy
from edgeos.admin_ui.hub import Hub, keep_running
from edgeos.admin_ui.sessions import LoginLimiter, SessionStore
from edgeos.admin_ui.widgets import WidgetStore
from edgeos.common.auth import ADMIN_USER, AuthStore
from edgeos.ipc import addresses
from edgeos.ipc.child import InstanceSpec, SupervisorLink, stop_signalled
from edgeos.ipc.rpc import AsyncRpcClient, RpcError

log = logging.getLogger("admin_ui")


def announce_first_password(auth: AuthStore) -> None:
    """First start: create the admin password and show it once (stderr -> the log)."""
    password = auth.ensure_admin_password()
    if password is not None:
        log.warning("FIRST START: admin password for user %r is: %s  (shown once; change it "
                    "with 'edgectl passwd')", ADMIN_USER, password)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_context(web: dict[str, Any]) -> ssl.SSLContext | None:
    """``web.certfile``/``web.keyfile`` turn on HTTPS (and Secure cookies)."""
    if not web.get("certfile"):
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(web["certfile"], web.get("keyfile"))
    return ctx


async def sync_mode(ui: Ui) -> None:
    """The events feed tells mode changes; the mode at start comes from ``status``."""
    while True:
        try:
            status = await ui.control.call("status", timeout=5)
        except RpcError:
            await asyncio.sleep(1)
            continue
        ui.hub.mode = status["mode"]
        ui.hub.mode_record = {"mode": status["mode"], **(status.get("panic") or {})}
        return


async def serve(spec: InstanceSpec) -> int:
    """Run the UI; an error that ends it reaches the supervisor's error store with its
    traceback (docs/architecture.md, Errors), like a worker's."""
    ctx = zmq.asyncio.Context()
    link = SupervisorLink(ctx, spec)
    link.hello()
    try:
        return await _serve(spec, ctx, link)
    except Exception as exc:
        link.error(exc, fatal=True, where="admin UI")
        link.close()  # (its linger lets the report out before the context goes)
        ctx.destroy(linger=0)
        raise


async def _serve(spec: InstanceSpec, ctx: zmq.asyncio.Context, link: SupervisorLink) -> int:
    data_dir, config_dir, run_dir = Path(spec.data_dir), Path(spec.config_dir), Path(spec.run_dir)
    web: dict[str, Any] = spec.extra.get("web", {})
    host, port = web.get("host", "127.0.0.1"), int(web.get("port", 8080))
    ssl_ctx = tls_context(web)
    ui = Ui(ctx=ctx, run_dir=run_dir, data_dir=data_dir, config_dir=config_dir,
            control=AsyncRpcClient(ctx, addresses.endpoint(run_dir, addresses.CONTROL)),
            auth=AuthStore(data_dir), sessions=SessionStore(), limiter=LoginLimiter(),
            hub=Hub(ctx, run_dir), widgets=WidgetStore(config_dir, data_dir / "backups"),
            tls=ssl_ctx is not None, link=link)

    link.report_loop_errors("admin UI event loop")
    announce_first_password(ui.auth)
    if not is_loopback(host):
        log.warning("admin UI bound to %s: reachable from the network%s", host or "all "
                    "interfaces", "" if ssl_ctx else " WITHOUT TLS (passwords travel in clear)")
    policy = HostPolicy(host, web.get("allowed_hosts", ()))  # edgeos.json, from the daemon
    server = make_app(ui, policy).listen(port, address=host, ssl_options=ssl_ctx,
                                         max_body_size=MAX_UPLOAD)
    log.info("admin UI on %s://%s:%d", "https" if ssl_ctx else "http", host, port)
    tasks = [asyncio.create_task(keep_running(ui.hub)), asyncio.create_task(sync_mode(ui)),
             asyncio.create_task(link.heartbeat_loop(lambda: {
                 "websockets": len(ui.hub.clients), "sessions": len(ui.sessions.sessions)},
                 float(spec.limits.get("heartbeat_s", 5))))]  # (no rates: no 1 s looks)
    link.ready()
    await stop_signalled()
    server.stop()
    for client in list(ui.hub.clients):
        with contextlib.suppress(Exception):
            client.close()  # type: ignore[attr-defined]
    for task in tasks:
        task.cancel()
    ui.hub.close()
    ui.control.close()
    link.close()
    ctx.destroy(linger=0)
    return 0
