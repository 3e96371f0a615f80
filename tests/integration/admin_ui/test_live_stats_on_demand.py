"""The live socket's 1 Hz stats come only while the page wants them (issue 16: with no
page showing them, the admin UI unsubscribes and the supervisor skips its full stats
pass); the sparkline history is kept meanwhile from the paced figures rows."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import tornado.httpclient
import tornado.websocket

from tests.integration.admin_ui.web import WebDaemon
from tests.integration.daemon import sim


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    w = WebDaemon(tmp_path_factory.mktemp("live"), [sim("plc_1", rate_hz=2)]).start()
    yield w
    w.close()


async def _read_for(conn: Any, seconds: float) -> list[dict[str, Any]]:
    out = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            out.append(json.loads(await asyncio.wait_for(conn.read_message(), left)))
        except TimeoutError:
            break
    return out


async def _session(url: str, token: str) -> dict[str, list[dict[str, Any]]]:
    req = tornado.httpclient.HTTPRequest(url, headers={"Authorization": f"Bearer {token}"})
    conn = await tornado.websocket.websocket_connect(req)
    try:
        first = await _read_for(conn, 4)  # hello, then stats (on by default)
        conn.write_message(json.dumps({"op": "stats", "on": False}))
        await _read_for(conn, 1.5)  # (one may have been on its way)
        off = await _read_for(conn, 4)
        conn.write_message(json.dumps({"op": "stats", "on": "yes"}))
        bad = await _read_for(conn, 1)
        conn.write_message(json.dumps({"op": "stats", "on": True}))
        on = await _read_for(conn, 4)
    finally:
        conn.close()
    return {"first": first, "off": off, "bad": bad, "on": on}


def test_stats_stop_and_resume_with_the_page(ui: WebDaemon) -> None:
    time.sleep(6)  # nobody watched yet: the history comes from the figures rows
    token = ui.token("viewer", "live")
    url = ui.base.replace("http", "ws") + "/api/ws"
    seen = asyncio.run(_session(url, token.token or ""))
    first = seen["first"]
    assert first[0]["type"] == "hello" and first[0]["history"].get("plc_1")
    assert any(m["type"] == "stats" for m in first)
    assert not [m for m in seen["off"] if m["type"] == "stats"]
    assert [m["detail"] for m in seen["bad"] if m["type"] == "problem"] == [
        "stats: 'on' must be true or false"]
    stats = [m for m in seen["on"] if m["type"] == "stats"]
    assert stats and "plc_1" in {i["id"] for i in stats[-1]["instances"]}
