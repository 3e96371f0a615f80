"""Every resource of the admin API against a real daemon: instances, connections,
routes, datapoints, widgets, plugins, system, logs, errors, OpenAPI, metrics, live."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import tornado.httpclient
import tornado.websocket
from edgeos.admin_ui.app import ROUTES
from edgeos.admin_ui.openapi import implemented
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.admin_ui.conftest import operations
from tests.integration.admin_ui.web import Web, WebDaemon
from tests.integration.daemon import pid_alive, sim

STATUS_FIELDS = {"id", "name", "type", "status", "pid", "nice", "cpu_percent", "memory_mb",
                 "memory_percent", "disk_io_read_mb", "disk_io_write_mb",
                 "network_packets_sent", "network_packets_recv", "pps_in", "pps_out",
                 "uptime_seconds", "restarts", "error_count", "last_error",
                 "heartbeat_age_s", "limits"}
ROUTES_DOC = [{"id": "volt_log", "from": "bms_1.voltage", "to": "log.test",
               "transform": "round(1)"}]


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    w = WebDaemon(tmp_path_factory.mktemp("res"),
                  [sim("plc_1", rate_hz=5), sim("bms_1", "bms", rate_hz=2),
                   sim("spare", "meter", rate_hz=1)], routes=ROUTES_DOC).start()
    yield w
    w.close()


@pytest.fixture(scope="module")
def admin(ui: WebDaemon) -> Web:
    return ui.token("admin", "tests")


def file_bytes(path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


# -- instances ---------------------------------------------------------------------------
def test_instance_stats_carry_the_contract_fields(admin: Web) -> None:
    doc = admin.ok("GET", "/api/admin/instances/stats")
    assert doc["mode"] == "normal"
    by_id = {i["id"]: i for i in doc["instances"]}
    assert {"broker", "admin-ui", "plc_1", "bms_1", "spare"} <= set(by_id)
    for inst in doc["instances"]:
        assert set(inst) >= STATUS_FIELDS, STATUS_FIELDS - set(inst)
    assert by_id["plc_1"]["status"] == "running"


def test_stop_start_restart_kill(ui: WebDaemon, admin: Web) -> None:
    pid = ui.d.instance("spare")["pid"]
    stopped = admin.ok("POST", "/api/admin/instances/spare/stop")
    assert stopped["status"] == "stopped" and not pid_alive(pid)
    assert admin.post("/api/admin/instances/spare/stop").status == 200  # idempotent
    started = admin.ok("POST", "/api/admin/instances/spare/start")
    assert started["status"] == "running" and started["pid"] != pid
    restarted = admin.ok("POST", "/api/admin/instances/spare/restart")
    assert restarted["pid"] not in (None, started["pid"])
    killed = admin.ok("POST", "/api/admin/instances/spare/kill")
    assert not pid_alive(restarted["pid"])
    assert killed["pid"] != restarted["pid"]
    back = ui.d.wait_state("spare", "running")
    assert back["pid"] not in (None, restarted["pid"])


def test_instance_errors_are_json_with_fitting_codes(admin: Web) -> None:
    res = admin.post("/api/admin/instances/nope/stop")
    assert res.status == 404 and "nope" in res.json()["error"]
    res = admin.post("/api/admin/instances/plc_1/explode")
    assert res.status == 404 and set(res.json()) == {"error", "detail"}
    res = admin.post("/api/admin/instances/broker/disconnect")
    assert res.status == 409  # a system process cannot be cut from the router
    assert admin.get("/api/no/such/thing").status == 404


def test_disconnect_and_reconnect(ui: WebDaemon, admin: Web) -> None:
    assert admin.ok("POST", "/api/admin/instances/plc_1/disconnect")["status"] == "disconnected"
    assert admin.ok("POST", "/api/admin/instances/plc_1/reconnect")["status"] == "running"
    res = admin.post("/api/admin/instances/plc_1/reactivate")
    assert res.status == 409 and "not suspended" in res.json()["error"]


# -- connections -------------------------------------------------------------------------
def test_connections_list_with_runtime(admin: Web) -> None:
    doc = admin.ok("GET", "/api/connections")
    by_id = {c["id"]: c for c in doc["connections"]}
    assert set(by_id) == {"plc_1", "bms_1", "spare"}
    assert by_id["bms_1"]["config"]["profile"] == "bms"
    assert by_id["bms_1"]["runtime"]["status"] == "running"
    one = admin.ok("GET", "/api/connections/bms_1")
    assert one["type"] == "simulator" and one["runtime"]["id"] == "bms_1"
    stats = admin.ok("GET", "/api/connections/bms_1/stats")
    assert set(stats) >= STATUS_FIELDS
    assert admin.get("/api/connections/nope").status == 404


def test_add_edit_delete_a_connection(ui: WebDaemon, admin: Web) -> None:
    path = ui.d.config / "connections.json"
    bad = {"id": "new_1", "type": "simulator", "config": {"profile": "toaster"}}
    res = admin.post("/api/connections", bad)
    assert res.status == 400, res.text
    assert any("profile" in line for line in res.json()["detail"])
    assert "new_1" not in path.read_text()
    res = admin.post("/api/connections", {"id": "bad id!", "type": "simulator"})
    assert res.status == 400
    good = {"id": "new_1", "type": "simulator", "name": "Added", "config": {"profile": "meter"}}
    res = admin.post("/api/connections", good)
    assert res.status == 201, res.text
    assert "new_1" in json.loads(path.read_text())["connections"][-1]["id"]
    ui.d.wait_state("new_1", "running")
    assert admin.post("/api/connections", good).status == 409
    edited = {**good, "config": {"profile": "meter", "rate_hz": 4}}
    assert admin.put("/api/connections/new_1", edited).status == 200
    assert admin.put("/api/connections/new_1", {**good, "id": "other"}).status == 400
    assert json.loads(path.read_text())["connections"][-1]["config"]["rate_hz"] == 4
    assert admin.delete("/api/connections/new_1").status == 200
    ui.d.wait_for(lambda: all(i["id"] != "new_1" for i in ui.d.status()["instances"]),
                  what="new_1 gone")
    assert admin.delete("/api/connections/new_1").status == 404
    assert list((ui.d.data / "backups").glob("connections.json.*"))


def test_connection_connect_and_disconnect(ui: WebDaemon, admin: Web) -> None:
    assert admin.ok("POST", "/api/connections/bms_1/disconnect")["status"] == "disconnected"
    assert admin.ok("POST", "/api/connections/bms_1/connect")["status"] == "running"
    admin.ok("POST", "/api/admin/instances/spare/stop")
    assert admin.ok("POST", "/api/connections/spare/connect")["status"] == "running"


# -- routes ------------------------------------------------------------------------------
def test_routes_in_force_with_counters(ui: WebDaemon, admin: Web) -> None:
    doc = ui.d.wait_for(lambda: (d := admin.ok("GET", "/api/router/routes"))
                        ["counters"]["volt_log"]["fired"] > 0 and d, what="route fired")
    assert [r["id"] for r in doc["routes"]] == ["volt_log"]
    res = admin.ok("POST", "/api/router/test", {"address": "bms_1.voltage", "value": 52})
    assert res["routes"][0]["route"] == "volt_log"
    assert res["routes"][0]["deliveries"][0]["target"] == "log.test"
    assert admin.post("/api/router/test", {"address": "bms_1.voltage"}).status == 400


def test_route_validation_and_save(ui: WebDaemon, admin: Web) -> None:
    path = ui.d.config / "routing.json"
    before = path.read_bytes()
    bad = {"version": "1.0", "routes": [{"id": "broken", "from": "bms_1.voltage",
                                         "to": "plc_1.MAIN.setpoint",
                                         "transform": "explode(3)"}]}
    res = admin.ok("POST", "/api/router/validate", bad)
    assert res["valid"] is False
    assert any("broken" in e and "explode" in e for e in res["errors"]), res
    res = admin.put("/api/router/routes", bad)
    assert res.status == 400 and any("explode" in e for e in res.json()["detail"])
    assert path.read_bytes() == before
    assert admin.put("/api/router/routes", {"routes": "nope"}).status == 400
    good = {"version": "1.0", "routes": [*ROUTES_DOC, {"id": "soc_log", "from": "bms_1.soc",
                                                       "to": "log.test"}]}
    assert admin.ok("POST", "/api/router/validate", good)["valid"] is True
    admin.ok("PUT", "/api/router/routes", good)
    assert "soc_log" in path.read_text()
    ids = [r["id"] for r in admin.ok("GET", "/api/router/routes")["routes"]]
    assert ids == ["volt_log", "soc_log"]


# -- datapoints --------------------------------------------------------------------------
def test_datapoint_tree_and_search(admin: Web) -> None:
    root = admin.ok("GET", "/api/datapoints")
    names = {c["name"] for c in root["children"]}
    assert {"plc_1", "bms_1", "spare"} <= names
    bms = admin.ok("GET", "/api/datapoints?prefix=bms_1.")
    assert {c["name"]: c["count"] for c in bms["children"]}["cells"] == 16
    leaves = {d["address"] for d in bms["datapoints"]}
    assert "bms_1.voltage" in leaves and "bms_1.cells.1" not in leaves
    cells = admin.ok("GET", "/api/datapoints?prefix=bms_1.cells.&limit=5")
    assert cells["leaves_total"] == 16 and len(cells["datapoints"]) == 5
    found = admin.ok("GET", "/api/datapoints?q=ftemp")
    assert [d["address"] for d in found["datapoints"]] == ["plc_1.MAIN.fTemp"]
    assert admin.get("/api/datapoints?limit=0").status == 400


def test_read_and_write_datapoints(ui: WebDaemon, admin: Web) -> None:
    dp = admin.ok("GET", "/api/datapoints/plc_1.MAIN.fTemp")
    assert dp["unit"] == "°C" and dp["quality"] == "good"
    assert admin.get("/api/datapoints/plc_1.MAIN.nothing").status == 404
    res = admin.put("/api/datapoints/plc_1.MAIN.fTemp", {"value": 99})
    assert res.status == 409 and "read-only" in res.json()["error"]
    assert admin.put("/api/datapoints/spare.setpoint", {"val": 1}).status == 400
    res = admin.put("/api/datapoints/spare.setpoint", {"value": 42.5})
    assert res.status == 200, res.text
    ui.d.wait_for(lambda: (v := admin.ok("GET", "/api/datapoints/spare.setpoint"))["value"]
                  == 42.5 and v["ack"], what="setpoint reported back")


# -- widgets -----------------------------------------------------------------------------
def test_widget_crud_import_export(ui: WebDaemon, admin: Web) -> None:
    path = ui.d.config / "widgets.json"
    w = {"type": "gauge", "title": "Battery", "bindings": {"value": {"source": "bms_1.voltage"}},
         "layout": {"x": 0, "y": 0, "w": 2, "h": 2}}
    created = admin.ok("POST", "/api/widgets", w, status=201)
    wid = created["id"]
    assert wid == "widget_001"
    assert admin.ok("GET", f"/api/widgets/{wid}")["title"] == "Battery"
    assert admin.post("/api/widgets", {**w, "id": wid}).status == 409
    before = file_bytes(path)
    res = admin.post("/api/widgets", {"title": "no type", "layout": {"x": -1}})
    assert res.status == 400 and len(res.json()["detail"]) == 2
    assert file_bytes(path) == before
    admin.ok("PUT", f"/api/widgets/{wid}", {**w, "title": "Pack voltage"})
    assert json.loads(path.read_text())["widgets"][wid]["title"] == "Pack voltage"
    assert list((ui.d.data / "backups").glob("widgets.json.*"))
    export = admin.get("/api/widgets/export")
    assert "attachment" in export.headers["Content-Disposition"]
    doc = export.json()
    assert set(doc["widgets"]) == {wid}
    admin.ok("POST", "/api/widgets/import", {"widgets": {"w_x": {"type": "value"}}})
    assert set(admin.ok("GET", "/api/widgets")["widgets"]) == {wid, "w_x"}
    admin.ok("POST", "/api/widgets/import", {**doc, "mode": "replace"})
    assert set(admin.ok("GET", "/api/widgets")["widgets"]) == {wid}
    admin.ok("DELETE", f"/api/widgets/{wid}")
    assert admin.get(f"/api/widgets/{wid}").status == 404
    assert admin.delete(f"/api/widgets/{wid}").status == 404


# -- plugins -----------------------------------------------------------------------------
def test_plugins_list_readme_and_enable(ui: WebDaemon, admin: Web) -> None:
    plugins = {p["name"]: p for p in admin.ok("GET", "/api/plugins")}
    sim_type = plugins["simulator"]
    assert sim_type["builtin"] and sim_type["enabled"] and sim_type["has_readme"]
    assert "profile" in sim_type["config_schema"]["properties"]
    assert set(sim_type["instances"]) == {"plc_1", "bms_1", "spare"}
    readme = admin.ok("GET", "/api/plugins/simulator/readme")
    assert "simulator" in readme["html"].lower() and "<h1>" in readme["html"]
    assert admin.get("/api/plugins/nope/readme").status == 404
    # a type with instances is not disabled behind their back
    res = admin.post("/api/plugins/disable", {"name": "simulator"})
    assert res.status == 409 and set(res.json()["detail"]) == {"plc_1", "bms_1", "spare"}
    admin.ok("POST", "/api/plugins/disable", {"name": "webhook"})
    try:
        res = admin.post("/api/connections", {"id": "x1", "type": "webhook",
                                              "config": {"url": "http://127.0.0.1:9/"}})
        assert res.status == 400 and "'webhook' is disabled" in str(res.json()["detail"])
        listed = {p["name"]: p for p in admin.ok("GET", "/api/plugins")}
        assert listed["webhook"]["enabled"] is False
    finally:
        admin.ok("POST", "/api/plugins/enable", {"name": "webhook"})
    assert admin.post("/api/plugins/enable", {"name": "nope"}).status == 404


def test_plugin_install_and_uninstall_refuse_what_they_must(admin: Web) -> None:
    res = admin.post("/api/plugins/install", {"package": "--index-url=http://evil/ x"})
    assert res.status == 400
    res = admin.post("/api/plugins/install", {"name": "x"})
    assert res.status == 400
    res = admin.post("/api/plugins/uninstall", {"name": "simulator"})
    assert res.status == 409 and "built into the core" in res.json()["error"]
    res = admin.post("/api/plugins/uninstall", {"name": "tornado"})
    assert res.status == 404  # not a plugin: never removed from here


# -- system, logs, errors ----------------------------------------------------------------
def test_system_logs_errors(ui: WebDaemon, admin: Web) -> None:
    sysdoc = admin.ok("GET", "/api/system/resources")
    assert {"cpu_percent", "memory_total_mb", "disk_percent", "performance",
            "mode"} <= set(sysdoc)
    assert sysdoc["admin_ui"]["memory_mb"] > 0
    lines = admin.ok("GET", "/api/logs?instance=spare&n=50")
    assert lines and all(e["instance"] == "spare" for e in lines)
    warn = admin.ok("GET", "/api/logs?instance=spare&level=WARNING")
    assert all(e["level"] in ("WARNING", "ERROR", "CRITICAL") for e in warn)
    assert any("kill requested" in e["line"] for e in warn)
    merged = admin.ok("GET", "/api/logs?n=100")
    assert len({e["instance"] for e in merged}) > 1
    assert [e["ts"] for e in merged] == sorted(e["ts"] for e in merged)
    assert admin.get("/api/logs?level=LOUD").status == 400
    assert admin.get("/api/logs?n=abc").status == 400
    assert admin.get("/api/logs?instance=nope").status == 404
    errors = admin.ok("GET", "/api/errors")
    assert isinstance(errors, list)


# -- documents ---------------------------------------------------------------------------
def test_openapi_lists_every_route_and_each_answers(ui: WebDaemon, admin: Web) -> None:
    doc = admin.ok("GET", "/api/openapi.json")
    for path, handler in ROUTES:
        assert path in doc["paths"], path
        methods = implemented(handler) or ["get"]
        assert set(doc["paths"][path]) == set(methods), path
    viewer = ui.token("viewer", "doc-check")
    for method, path, op in operations(doc):
        res = viewer.request(method, path, body={}) if method != "GET" else viewer.get(path)
        assert res.status not in (404, 405) or op["responses"].get("404"), (method, path)
        assert res.status != 500, (method, path, res.text)


def test_metrics_are_prometheus_text(ui: WebDaemon, admin: Web) -> None:
    def scrape() -> dict[str, Any]:
        res = admin.get("/metrics")
        assert res.status == 200 and res.headers["Content-Type"].startswith("text/plain")
        return {f.name: f for f in text_string_to_metric_families(res.text)}

    families = ui.d.wait_for(  # the broker's counters arrive with its next heartbeat
        lambda: (f := scrape())["edgeos_broker_datapoints_in"].samples[0].value > 0
        and f["edgeos_route_fired"].samples[0].value > 0 and f, what="counters")
    cpu = {s.labels["id"] for s in families["edgeos_instance_cpu_percent"].samples}
    assert {"broker", "plc_1", "bms_1", "spare", "admin-ui"} <= cpu
    states = [s for s in families["edgeos_instance_state"].samples
              if s.labels["id"] == "plc_1" and s.value == 1]
    assert [s.labels["state"] for s in states] == ["running"]
    fired = {s.labels["route"]: s.value for s in families["edgeos_route_fired"].samples}
    assert fired["volt_log"] >= 1
    assert "edgeos_broker_dropped" in families
    assert families["edgeos_panic"].samples[0].value == 0
    status = admin.ok("GET", "/status")
    assert status["mode"] == "normal" and status["counts"]["running"] >= 4


# -- live --------------------------------------------------------------------------------
async def _live(url: str, token: str, prefixes: list[str], want: int) -> dict[str, Any]:
    req = tornado.httpclient.HTTPRequest(url, headers={"Authorization": f"Bearer {token}"})
    conn = await tornado.websocket.websocket_connect(req)
    seen: dict[str, Any] = {"types": [], "changes": []}
    try:
        conn.write_message(json.dumps({"op": "subscribe", "prefixes": prefixes}))
        deadline = time.monotonic() + 15
        # stats come within a second of the socket's start (the hub subscribes to the
        # supervisor's stats when a socket wants them); changes may all come first
        while time.monotonic() < deadline and (len(seen["changes"]) < want
                                               or "stats" not in seen):
            msg = await asyncio.wait_for(conn.read_message(), 5)
            doc = json.loads(msg)
            seen["types"].append(doc["type"])
            if doc["type"] == "hello":
                seen["hello"] = doc
            elif doc["type"] == "stats":
                seen["stats"] = doc
            elif doc["type"] == "changes":
                seen["changes"] += doc["items"]
    finally:
        conn.close()
    return seen


def test_websocket_pushes_stats_and_only_subscribed_changes(ui: WebDaemon, admin: Web) -> None:
    url = ui.base.replace("http", "ws") + "/api/ws"
    # the hello carries each instance's recent figures; at idle they come every 5 s
    # (docs/idle-pacing.md), so a worker that has just started has them within a period
    seen = ui.d.wait_for(
        lambda: "plc_1" in (s := asyncio.run(_live(url, admin.token or "", ["bms_1.cells."],
                                                   20)))["hello"]["history"] and s,
        what="plc_1's figures in the hello")
    assert seen["types"][0] == "hello" and seen["hello"]["role"] == "admin"
    assert {i["id"] for i in seen["stats"]["instances"]} >= {"plc_1", "bms_1"}
    assert len(seen["changes"]) >= 20
    assert all(item[0].startswith("bms_1.cells.") for item in seen["changes"])


def test_websocket_refuses_strangers(ui: WebDaemon) -> None:
    url = ui.base.replace("http", "ws") + "/api/ws"

    async def attempt(headers: dict[str, str]) -> int:
        try:
            conn = await tornado.websocket.websocket_connect(
                tornado.httpclient.HTTPRequest(url, headers=headers))
        except tornado.httpclient.HTTPClientError as exc:
            return exc.code
        conn.close()
        return 101

    assert asyncio.run(attempt({})) == 401
    web = ui.admin()
    cookie = "; ".join(f"{c.name}={c.value}" for c in web.jar)
    assert asyncio.run(attempt({"Cookie": cookie, "Origin": "http://evil.example"})) == 403
    assert asyncio.run(attempt({"Cookie": cookie, "Origin": ui.base})) == 101
