"""The operator role and user management against a real daemon: through edgectl and the
HTTP API, as an admin, an operator and a viewer would use them."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import tornado.httpclient
import tornado.websocket

from tests.integration.admin_ui.web import Web, WebDaemon
from tests.integration.daemon import sim

ANNA = "anna password 1"


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    w = WebDaemon(tmp_path_factory.mktemp("roles"), [sim("plc_1", rate_hz=5)]).start()
    done = w.d.ctl("user", "add", "anna", "--role", "operator", input=ANNA + "\n")
    assert done.returncode == 0, done.stderr
    yield w
    w.close()


def login(ui: WebDaemon, user: str, password: str) -> Web:
    web = Web(ui.base)
    res = web.login(password, user)
    assert res.status == 200, res.text
    return web


def test_edgectl_user_verbs_and_token_roles(ui: WebDaemon) -> None:
    users = {u["name"]: u["role"] for u in ui.d.ctl_json("user", "list")}
    assert users == {"admin": "admin", "anna": "operator"}
    assert "hash" not in ui.d.ctl("user", "list").stdout
    assert ui.d.ctl("user", "add", "anna", input="whatever long\n").returncode == 1
    bad = ui.d.ctl("user", "add", "bob", "--role", "root", input="whatever long\n")
    assert bad.returncode == 2
    assert ui.d.ctl_json("token", "create", "--name", "plain")["role"] == "viewer"
    op = ui.d.ctl_json("token", "create", "--role", "operator", "--name", "panel")
    assert op["role"] == "operator"
    assert Web(ui.base, token=op["token"]).ok("GET", "/api/session")["role"] == "operator"
    assert ui.d.ctl("user", "remove", "admin").returncode == 1  # the last admin stays
    assert ui.d.ctl("user", "remove", "nobody").returncode == 1


def test_operator_writes_datapoints_and_dashboards_but_no_config_or_lifecycle(
        ui: WebDaemon) -> None:
    anna = login(ui, "anna", ANNA)
    assert anna.ok("GET", "/api/session")["role"] == "operator"
    res = anna.put("/api/datapoints/plc_1.MAIN.setpoint", {"value": 23.5})
    assert res.status == 200, res.text
    ui.d.wait_for(lambda: ui.d.call("get", address="plc_1.MAIN.setpoint")["value"] == 23.5,
                  what="the write reached the simulator")
    widget = {"id": "w1", "type": "value", "bindings": {"value": {"source": "plc_1.MAIN.fTemp"}}}
    created = anna.post("/api/widgets", widget)
    assert created.status == 201, created.text
    assert anna.delete("/api/widgets/w1").status == 200
    pid = ui.d.instance("plc_1")["pid"]
    for method, path, body in (
            ("POST", "/api/admin/instances/plc_1/stop", None),
            ("POST", "/api/admin/panic", {}),
            ("POST", "/api/admin/reload", None),
            ("POST", "/api/connections", {"version": "1.0", "connections": []}),
            ("PUT", "/api/router/routes", {"version": "1.0", "routes": []}),
            ("GET", "/api/users", None),
            ("POST", "/api/users", {"username": "eve", "password": "long enough"})):
        res = anna.request(method, path, **({"body": body} if body is not None else {}))
        assert res.status == 403, f"{method} {path}: {res.status} {res.text}"
        assert res.json()["detail"] == {"needed": "admin", "have": "operator"}
    assert ui.d.instance("plc_1")["pid"] == pid and ui.d.status()["mode"] == "normal"
    viewer = ui.token("viewer", "viewer-roles")
    res = viewer.put("/api/datapoints/plc_1.MAIN.setpoint", {"value": 1})
    assert res.status == 403 and res.json()["detail"]["needed"] == "operator"


def test_admin_manages_users_over_the_api(ui: WebDaemon) -> None:
    admin = ui.admin()
    assert admin.post("/api/users", {"username": "bob", "password": "bob password",
                                     "role": "viewer"}).status == 201
    assert admin.post("/api/users", {"username": "bob", "password": "bob password"}
                      ).status == 409
    bad = admin.post("/api/users", {"username": "b o b", "password": "short"})
    assert bad.status == 400 and len(bad.json()["detail"]) == 2
    bob = login(ui, "bob", "bob password")
    assert bob.put("/api/datapoints/plc_1.MAIN.setpoint", {"value": 2}).status == 403
    assert admin.put("/api/users/bob", {"role": "operator"}).status == 200
    assert bob.get("/api/session").status == 401  # a role change ends his sessions
    bob = login(ui, "bob", "bob password")
    assert bob.ok("GET", "/api/session")["role"] == "operator"
    listed = {u["name"]: u["role"] for u in admin.ok("GET", "/api/users")}
    assert listed["bob"] == "operator" and listed["admin"] == "admin"
    assert admin.delete("/api/users/admin").status == 409  # the last admin
    assert admin.put("/api/users/admin", {"role": "viewer"}).status == 409
    assert admin.delete("/api/users/bob").status == 200
    assert bob.get("/api/session").status == 401
    assert admin.delete("/api/users/bob").status == 404
    audit = (ui.d.data / "audit.log").read_text()
    assert '"action": "user_add"' in audit and '"who": "admin"' in audit


def test_every_user_changes_their_own_password(ui: WebDaemon) -> None:
    ui.d.ctl("user", "add", "carl", input="carl password\n")
    carl, other = login(ui, "carl", "carl password"), login(ui, "carl", "carl password")
    wrong = carl.post("/api/account/password", {"current": "nope", "new": "carl new password"})
    assert wrong.status == 403
    res = carl.post("/api/account/password", {"current": "carl password",
                                              "new": "carl new password"})
    assert res.status == 200, res.text
    carl.csrf = res.json()["csrf"]
    assert carl.ok("GET", "/api/session")["user"] == "carl"  # this session goes on
    assert other.get("/api/session").status == 401  # the other one ended
    assert Web(ui.base).login("carl password", "carl").status == 401
    token = ui.token("admin", "admin-token-roles")
    assert token.post("/api/account/password", {"current": "x", "new": "long enough!"}
                      ).status == 403
    done = ui.d.ctl("user", "passwd", "carl", input="carl third password\n")
    assert done.returncode == 0, done.stderr
    assert carl.get("/api/session").status == 401
    login(ui, "carl", "carl third password")


async def _closed_when(url: str, headers: dict[str, str], act: Any) -> bool:
    """Open a live socket, run ``act`` (in a thread), and report whether the server
    closed the socket within 10 s."""
    conn = await tornado.websocket.websocket_connect(
        tornado.httpclient.HTTPRequest(url, headers=headers))
    try:
        assert json.loads(await conn.read_message())["type"] == "hello"
        await asyncio.to_thread(act)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            msg = await asyncio.wait_for(conn.read_message(), 10)
            if msg is None:
                return conn.close_code == 4401
        return False
    finally:
        conn.close()


def test_live_sockets_close_when_the_user_or_token_is_revoked(ui: WebDaemon) -> None:
    url = ui.base.replace("http", "ws") + "/api/ws"
    admin = ui.admin()
    assert admin.post("/api/users", {"username": "dora", "password": "dora password"}
                      ).status == 201
    dora = login(ui, "dora", "dora password")
    cookie = "; ".join(f"{c.name}={c.value}" for c in dora.jar)
    assert asyncio.run(_closed_when(url, {"Cookie": cookie, "Origin": ui.base},
                                    lambda: admin.delete("/api/users/dora")))
    made = ui.d.ctl_json("token", "create", "--name", "live-token")
    assert asyncio.run(_closed_when(url, {"Authorization": f"Bearer {made['token']}"},
                                    lambda: ui.d.ctl("token", "revoke", "live-token")))
