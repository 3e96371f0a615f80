"""Issue 17 items 6-9 and 12 against a real daemon and its UI: body limits before the
body is read, nesting depth, non-finite numbers, live sockets after the credential
ends, secrets in connection configs, the Host header, and access lines off INFO."""

from __future__ import annotations

import asyncio
import json
import math
import re
import socket
from pathlib import Path
from typing import Any

import pytest
import tornado.httpclient
import tornado.websocket
from edgeos.admin_ui.redact import PLACEHOLDER
from edgeos.ipc import strictjson

from tests.integration.admin_ui.web import Web, WebDaemon
from tests.integration.daemon import sim

SECRET = "s3cret-pw-4711"
# enabled, against a port where no broker listens: the worker runs, fails and logs
MQTT = {"id": "mq_1", "type": "mqtt", "enabled": True,
        "config": {"host": "127.0.0.1", "port": 9, "username": "edge", "password": SECRET}}


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    w = WebDaemon(tmp_path_factory.mktemp("hard"), [sim("plc_1", rate_hz=2)],
                  settings={"web": {"allowed_hosts": ["edge.home.arpa"]}}).start()
    yield w
    w.close()


def raw_http(port: int, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send a request head (and maybe part of a body) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data and data.split(b"\r\n\r\n", 1)[1].rstrip().endswith(b"}"):
                break
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data.split(b"\r\n\r\n", 1)[-1]


# -- item 6: body size and depth -------------------------------------------------------
def test_an_oversized_body_is_refused_before_it_is_read(ui: WebDaemon) -> None:
    for path, length in (("/api/login", 95_000_000), ("/api/login", 5000),
                         ("/api/router/test", 70_000), ("/api/connections", 3_000_000)):
        # Only the head is sent: an answer proves the body was never waited for.
        status, body = raw_http(ui.port, f"POST {path} HTTP/1.1\nHost: 127.0.0.1:{ui.port}\n"
                                         "Content-Type: application/json\n"
                                         f"Content-Length: {length}\n")
        assert status == 413, (path, body)
        doc = json.loads(body)
        assert "too large" in doc["error"] and str(length) in doc["error"]
        assert doc["detail"]["max_bytes"] < length
    # a small login body still works, and so does a large document where one is meant
    assert Web(ui.base).login(WebDaemon.PASSWORD).status == 200
    admin = ui.admin()
    routes = [{"id": f"r{n}", "from": f"plc_1.x{n}", "to": "log.y", "description": "x" * 500}
              for n in range(300)]
    res = admin.post("/api/router/validate", {"version": "1.0", "routes": routes})
    assert res.status != 413 and len(json.dumps(routes)) > 64 * 1024, res.text


def test_a_chunked_body_cannot_grow_past_the_limit(ui: WebDaemon) -> None:
    chunk = b"x" * 4096
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(8)) + b"0\r\n\r\n"
    status, _ = raw_http(ui.port, f"POST /api/login HTTP/1.1\nHost: 127.0.0.1:{ui.port}\n"
                                  "Content-Type: application/json\n"
                                  "Transfer-Encoding: chunked\n", body)
    assert status in (0, 400, 413)  # dropped or refused, never handled
    assert Web(ui.base).get("/health").status == 200


def test_deep_nesting_is_a_clear_400(ui: WebDaemon) -> None:
    admin = ui.admin()
    deep = b"[" * 100_000 + b"]" * 100_000
    res = admin.post("/api/router/validate", raw=deep,
                     headers={"Content-Type": "application/json"})
    assert res.status == 400 and "nested deeper than 64 levels" in res.json()["error"]
    res = admin.post("/api/router/test", raw=b'{"address": "plc_1.x", "value": '
                     + b"[" * 20_000 + b"]" * 20_000 + b"}",
                     headers={"Content-Type": "application/json"})
    assert res.status == 400 and "nested deeper" in res.json()["error"]


# -- item 8: non-finite numbers --------------------------------------------------------
def test_non_finite_numbers_are_refused_and_never_emitted(ui: WebDaemon) -> None:
    admin = ui.admin()
    address = "plc_1.MAIN.setpoint"
    admin.ok("PUT", f"/api/datapoints/{address}", {"value": 21.5})
    for text in ("NaN", "Infinity", "-Infinity", "1e999"):
        res = admin.put(f"/api/datapoints/{address}", raw=f'{{"value": {text}}}'.encode(),
                        headers={"Content-Type": "application/json"})
        assert res.status == 400, (text, res.text)
        assert text in res.json()["error"] and "finite" in res.json()["error"]
    done = ui.d.ctl("set", address, "NaN")
    assert done.returncode == 2 and "NaN" in done.stderr and "finite" in done.stderr
    ui.d.wait_for(lambda: admin.ok("GET", f"/api/datapoints/{address}")["value"] == 21.5,
                  what="the setpoint kept")
    # Past the API, over the control socket, the device itself refuses it (bad value),
    # so nothing non-finite is stored or pushed.
    refused = ui.d.call("set", address=address, value=float("nan"))
    assert (refused["outcome"], refused["refusal"]) == ("refused", "bad_value")
    assert admin.ok("GET", f"/api/datapoints/{address}")["value"] == 21.5
    seen = asyncio.run(_changes(ui, admin, "plc_1.MAIN."))
    assert all(item[1] is None or math.isfinite(item[1]) for item in seen
               if isinstance(item[1], float))


def test_non_finite_values_are_served_as_null() -> None:
    """What a device might still report (a NaN from a float register) leaves the UI as
    null: every HTTP and live-socket document goes through strictjson.dumps."""
    text = strictjson.dumps({"value": float("nan"), "items": [[1, float("inf")]]})
    assert json.loads(text) == {"value": None, "items": [[1, None]]}
    assert "NaN" not in text and "Infinity" not in text


async def _changes(ui: WebDaemon, web: Web, prefix: str) -> list[Any]:
    conn = await tornado.websocket.websocket_connect(_ws_request(ui, web))
    items: list[Any] = []
    try:
        conn.write_message(json.dumps({"op": "subscribe", "prefixes": [prefix]}))
        while not items:
            doc = strictjson.loads(await asyncio.wait_for(conn.read_message(), 10))
            if doc["type"] == "changes":
                items += doc["items"]
    finally:
        conn.close()
    return items


# -- item 7: live sockets end with their credential ------------------------------------
def _ws_request(ui: WebDaemon, web: Web) -> tornado.httpclient.HTTPRequest:
    headers = {"Origin": ui.base}
    if web.token:
        headers["Authorization"] = f"Bearer {web.token}"
    else:
        headers["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in web.jar)
    return tornado.httpclient.HTTPRequest(ui.base.replace("http", "ws") + "/api/ws",
                                          headers=headers)


async def _closed_after(ui: WebDaemon, web: Web, action: Any) -> int | None:
    """Open a live socket, see it stream, run ``action``, and return the close code
    once the server closes it (a timeout fails the test)."""
    conn = await tornado.websocket.websocket_connect(_ws_request(ui, web))
    assert json.loads(await asyncio.wait_for(conn.read_message(), 10))["type"] == "hello"
    await asyncio.get_running_loop().run_in_executor(None, action)
    while await asyncio.wait_for(conn.read_message(), 5) is not None:
        pass
    return conn.close_code


def test_a_live_socket_closes_on_logout(ui: WebDaemon) -> None:
    web = ui.admin()
    assert asyncio.run(_closed_after(ui, web, lambda: web.post("/api/logout"))) == 4401


def test_a_live_socket_closes_when_its_token_is_revoked(ui: WebDaemon) -> None:
    viewer = ui.token("viewer", "live-viewer")
    code = asyncio.run(_closed_after(ui, viewer, lambda: ui.d.ctl("token", "revoke",
                                                                  "live-viewer")))
    assert code == 4401


def test_a_live_socket_closes_when_the_password_changes(ui: WebDaemon) -> None:
    web = ui.admin()
    code = asyncio.run(_closed_after(
        ui, web, lambda: ui.d.ctl("passwd", input=WebDaemon.PASSWORD + "\n")))
    assert code == 4401


# -- item 9: secrets ----------------------------------------------------------------------
def test_secrets_are_redacted_for_every_role_and_kept_on_write(ui: WebDaemon) -> None:
    admin, viewer = ui.admin(), ui.token("viewer", "secret-reader")
    created = admin.ok("POST", "/api/connections", MQTT, status=201)
    assert created["connection"]["config"]["password"] == PLACEHOLDER
    for who in (admin, viewer):
        one = who.get("/api/connections/mq_1")
        assert one.status == 200 and SECRET.encode() not in one.body
        assert one.json()["config"]["password"] == PLACEHOLDER
        assert one.json()["config"]["username"] == "edge"  # only secrets are hidden
        assert SECRET.encode() not in who.get("/api/connections").body
    # the form sends back what it got, with one field changed: the secret is kept
    entry = {k: v for k, v in admin.ok("GET", "/api/connections/mq_1").items()
             if k != "runtime"}
    entry["config"]["port"] = 7
    admin.ok("PUT", "/api/connections/mq_1", entry)
    on_disk = json.loads((ui.d.config / "connections.json").read_text())
    stored = next(c for c in on_disk["connections"] if c["id"] == "mq_1")
    assert stored["config"] == {**MQTT["config"], "port": 7}
    ui.d.wait_for(lambda: ui.d.call("logs", id="mq_1", n=50), what="the worker logged")
    # a placeholder where nothing is stored is an error, not a password of asterisks
    res = admin.post("/api/connections", {**MQTT, "id": "mq_2"} | {
        "config": {**MQTT["config"], "password": PLACEHOLDER}})
    assert res.status == 400 and "placeholder" in json.dumps(res.json()["detail"])
    admin.ok("DELETE", "/api/connections/mq_1")
    assert not [e for e in ui.d.call("logs", id="mq_1", n=2000) if SECRET in e["line"]]
    for path in [*Path(ui.d.data).rglob("*.log"), *Path(ui.d.data).rglob("*.log.*")]:
        assert SECRET not in path.read_text(errors="replace"), path
    assert SECRET not in ui.d.daemon_log()


# -- item 12: Host header ------------------------------------------------------------------
def test_only_known_host_names_are_answered(ui: WebDaemon) -> None:
    def status(host: str, path: str = "/health") -> int:
        return raw_http(ui.port, f"GET {path} HTTP/1.1\nHost: {host}\n"
                                 "Connection: close\n")[0]

    for host in ("evil.example", f"evil.example:{ui.port}", "127.0.0.1.nip.io"):
        for path in ("/health", "/", "/login", "/api/ws", "/static/app.css"):
            assert status(host, path) == 421, (host, path)
    _, body = raw_http(ui.port, "GET /health HTTP/1.1\nHost: evil.example\n")
    assert "allowed_hosts" in json.loads(body)["error"]
    for host in (f"127.0.0.1:{ui.port}", f"localhost:{ui.port}", f"[::1]:{ui.port}",
                 "LOCALHOST", f"edge.home.arpa:{ui.port}"):
        assert status(host) == 200, host


def test_access_lines_stay_off_the_info_log(ui: WebDaemon) -> None:
    web = ui.admin()
    for _ in range(5):
        web.get("/api/admin/instances/stats")
    lines = [e["line"] for e in ui.d.call("logs", id="admin-ui", n=2000)]
    assert not [x for x in lines if re.search(r"\b\d{3} (GET|POST|PUT) /", x)], lines[-5:]
