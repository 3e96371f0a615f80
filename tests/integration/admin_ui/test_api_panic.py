"""Panic and recover through the API: the UI stays up while every worker stops."""

from __future__ import annotations

import pytest

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
