"""Panic and recover through the API: the UI stays up while every worker stops."""

from __future__ import annotations

import asyncio
import json

import pytest
import tornado.httpclient
import tornado.websocket

from tests.integration.admin_ui.web import Web, WebDaemon
from tests.integration.daemon import pid_alive, sim


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    w = WebDaemon(tmp_path_factory.mktemp("panic"),
                  [sim("plc_1", rate_hz=2, failsafe={"MAIN.setpoint": 15}),
                   sim("bms_1", "bms", rate_hz=1)]).start()
    yield w
    w.close()


def test_panic_and_recover(ui: WebDaemon) -> None:
    web = ui.admin()
    pids = [ui.d.instance(i)["pid"] for i in ("plc_1", "bms_1")]
    assert ui.token("viewer", "v").post("/api/admin/panic", {}).status == 403
    assert web.post("/api/admin/panic", {"why": 12}).status == 400
    assert ui.d.instance("plc_1")["pid"] == pids[0]  # refused requests changed nothing
    res = web.ok("POST", "/api/admin/panic", {"why": "test drill"})
    assert res["mode"] == "panic"
    assert not any(pid_alive(p) for p in pids)
    doc = web.ok("GET", "/api/admin/instances/stats")
    assert doc["mode"] == "panic"
    states = {i["id"]: i["status"] for i in doc["instances"]}
    assert states["plc_1"] == states["bms_1"] == "stopped"
    assert states["admin-ui"] == states["broker"] == "running"
    assert Web(ui.base).get("/health").json()["mode"] == "panic"
    res = web.post("/api/admin/instances/plc_1/start")
    assert res.status == 409 and "panic" in res.json()["error"]
    res = web.put("/api/datapoints/plc_1.MAIN.setpoint", {"value": 1})
    assert res.status == 409
    audit = (ui.d.data / "audit.log").read_text()
    assert "admin" in audit and "test drill" in audit
    res = web.ok("POST", "/api/admin/recover")
    assert res["mode"] == "normal"
    ui.d.wait_state("plc_1", "running")
    ui.d.wait_state("bms_1", "running")
    assert web.ok("GET", "/status")["mode"] == "normal"


async def _hello(ui: WebDaemon, web: Web) -> dict:
    cookie = "; ".join(f"{c.name}={c.value}" for c in web.jar)
    conn = await tornado.websocket.websocket_connect(tornado.httpclient.HTTPRequest(
        ui.base.replace("http", "ws") + "/api/ws", headers={"Cookie": cookie,
                                                            "Origin": ui.base}))
    try:
        return json.loads(await asyncio.wait_for(conn.read_message(), 10))
    finally:
        conn.close()


def test_panic_reason_who_and_when_everywhere_and_after_a_ui_restart(ui: WebDaemon) -> None:
    web = ui.admin()
    web.ok("POST", "/api/admin/panic", {"why": "water in the basement"})
    try:
        for doc in (web.ok("GET", "/status"), web.ok("GET", "/api/admin/instances/stats"),
                    ui.d.ctl_json("status")):
            assert doc["panic"]["who"] == "admin", doc
            assert doc["panic"]["why"] == "water in the basement"
            assert doc["panic"]["since"] > 0
        text = ui.d.ctl("status").stdout
        assert "PANIC since" in text and "by admin: water in the basement" in text
        assert asyncio.run(_hello(ui, web))["panic"]["why"] == "water in the basement"
        # a new admin UI process (a page reload after it restarted) still knows
        assert ui.d.ctl("restart", "admin-ui").returncode == 0
        ui.d.wait_for(lambda: Web(ui.base).get("/health").status == 200, 20, "UI back")
        hello = asyncio.run(_hello(ui, ui.admin()))
        assert hello["mode"] == "panic" and hello["panic"]["who"] == "admin"
    finally:
        ui.admin().ok("POST", "/api/admin/recover")
    assert ui.admin().ok("GET", "/status")["panic"] is None


def test_restarting_the_admin_ui_from_itself_answers_before_it_goes(ui: WebDaemon) -> None:
    web = ui.admin()
    pid = ui.d.instance("admin-ui")["pid"]
    res = web.post("/api/admin/instances/admin-ui/restart")
    assert res.status == 202 and res.json()["status"] == "accepted", res.text
    ui.d.wait_for(lambda: (i := ui.d.instance("admin-ui"))["status"] == "running"
                  and i["pid"] not in (None, pid), 30, "a new admin UI process")
    ui.d.wait_for(lambda: Web(ui.base).get("/health").status == 200, 20, "UI back")
    assert web.get("/api/session").status == 401  # sessions lived in the old process
    assert ui.admin().ok("GET", "/api/session")["user"] == "admin"
