"""The admin UI's uncaught errors reach the supervisor with their traceback
(docs/architecture.md, Errors): a handler's bug behind a 500 is sent over the real
supervisor link; a deliberate API error is not."""

from __future__ import annotations

import asyncio
import socket
import tempfile
from pathlib import Path
from types import SimpleNamespace

import tornado.httpclient
import tornado.web
import zmq
import zmq.asyncio
from edgeos.admin_ui.handlers.base import ApiError, ApiHandler
from edgeos.ipc import addresses, protocol
from edgeos.ipc.child import InstanceSpec, SupervisorLink


class Planted(ApiHandler):
    public = True

    async def get(self) -> None:
        raise RuntimeError("planted bug in a handler")


class Refused(ApiHandler):
    public = True

    async def get(self) -> None:
        raise ApiError(409, "refused on purpose")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _scenario(run: Path) -> list[dict[str, object]]:
    ctx = zmq.asyncio.Context()
    supervisor = addresses.bind(ctx.socket(zmq.ROUTER), run, addresses.SUPERVISOR)
    spec = InstanceSpec(id="admin-ui", type="admin-ui", name="admin-ui", config={},
                        limits={}, run_dir=str(run), data_dir=str(run), config_dir=str(run))
    link = SupervisorLink(ctx, spec)
    port = _port()
    server = tornado.web.Application([("/boom", Planted), ("/no", Refused)],
                                     edge=SimpleNamespace(link=link)).listen(
        port, address="127.0.0.1")
    client = tornado.httpclient.AsyncHTTPClient()
    got = []
    try:
        for path, status in (("/no", 409), ("/boom", 500)):
            res = await client.fetch(f"http://127.0.0.1:{port}{path}", raise_error=False)
            assert res.code == status
        while await supervisor.poll(2000):
            ident, kind, body = await supervisor.recv_multipart()
            assert ident == b"admin-ui" and kind == protocol.ERROR
            got.append(protocol.unpack(body))
    finally:
        server.stop()
        link.close(0)
        supervisor.close(0)
        ctx.term()
    return got


def test_a_handler_bug_is_reported_to_the_supervisor() -> None:
    with tempfile.TemporaryDirectory(prefix="eo-") as run:
        got = asyncio.run(_scenario(Path(run)))
    assert len(got) == 1, got  # the 409 is not an error of the UI's
    assert got[0]["message"] == "RuntimeError: planted bug in a handler"
    assert "Traceback" in str(got[0]["traceback"]) and got[0]["where"] == "GET /boom"
    assert got[0]["fatal"] is False
