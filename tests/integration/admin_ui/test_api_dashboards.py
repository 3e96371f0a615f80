"""Dashboards through the API of a real daemon: tabs saved whole, export of one and of
all, import (merge, replace, refused whole), a dashboard generated for an instance from
its datapoints, and the live socket sending exactly the datapoints a dashboard shows."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import tornado.httpclient
import tornado.websocket

from tests.integration.admin_ui.blobs import png, send_blob
from tests.integration.admin_ui.web import Web, WebDaemon
from tests.integration.daemon import sim

LAYOUT = {"x": 0, "y": 0, "w": 2, "h": 1}


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    w = WebDaemon(tmp_path_factory.mktemp("dash-api"),
                  [sim("plc_1", rate_hz=5), sim("bms_1", "bms", rate_hz=5),
                   sim("meter_1", "meter", rate_hz=2),
                   sim("cam", enabled=False)]).start()  # its blobs: sent by the test
    yield w
    w.close()


@pytest.fixture(scope="module")
def admin(ui: WebDaemon) -> Web:
    return ui.token("admin", "dash-tests")


def test_dashboards_export_and_import(ui: WebDaemon, admin: Web) -> None:
    path = ui.d.config / "widgets.json"
    made = admin.ok("POST", "/api/dashboards", {"title": "Living room"}, status=201)
    assert made["id"] == "living_room" and made["widgets"] == {}
    assert admin.post("/api/dashboards", {"title": "x", "id": "living_room"}).status == 409
    widgets = {"t1": {"type": "value", "layout": LAYOUT,
                      "bindings": {"value": {"source": "plc_1.MAIN.fTemp"}},
                      "options": {"unit": "°C", "stale_s": 30}},
               "s1": {"type": "switch", "layout": {**LAYOUT, "x": 2},
                      "bindings": {"value": {"source": "meter_1.setpoint"}}}}
    admin.ok("PUT", "/api/dashboards/living_room", {"title": "Living room", "widgets": widgets})
    admin.ok("PUT", "/api/dashboards/cellar", {"title": "Cellar", "order": 1, "widgets": {
        "c1": {"type": "gauge", "layout": LAYOUT}}})
    listed = admin.ok("GET", "/api/dashboards")["dashboards"]
    assert [(b["id"], b["widgets"]) for b in listed] == [("living_room", 2), ("cellar", 1)]
    # export one dashboard, and all
    one = admin.get("/api/widgets/export?dashboard=living_room")
    assert 'filename="widgets-living_room.json"' in one.headers["Content-Disposition"]
    one_doc = one.json()
    assert set(one_doc["dashboards"]) == {"living_room"} and set(one_doc["widgets"]) == {"t1", "s1"}
    assert admin.get("/api/widgets/export?dashboard=nope").status == 404
    everything = admin.get("/api/widgets/export").json()
    assert set(everything["widgets"]) == {"t1", "s1", "c1"}
    # a bad import changes nothing and names every problem
    before = path.read_bytes()
    res = admin.post("/api/widgets/import", {"widgets": {"bad id!": {"type": "value"},
                                                         "ok": {"layout": {"x": -1}}}})
    assert res.status == 400 and len(res.json()["detail"]) >= 2, res.text
    assert path.read_bytes() == before
    # replace with one dashboard's export: exactly that dashboard comes back
    admin.ok("POST", "/api/widgets/import", {**one_doc, "mode": "replace"})
    assert [b["id"] for b in admin.ok("GET", "/api/dashboards")["dashboards"]] == ["living_room"]
    assert admin.ok("GET", "/api/dashboards/living_room")["widgets"]["t1"]["options"] == {
        "unit": "°C", "stale_s": 30}
    # merge the full export back: both tabs again
    admin.ok("POST", "/api/widgets/import", everything)
    assert {b["id"] for b in admin.ok("GET", "/api/dashboards")["dashboards"]} == {
        "living_room", "cellar"}
    assert list((ui.d.data / "backups").glob("widgets.json.*"))
    assert admin.ok("DELETE", "/api/dashboards/cellar") == {"deleted": "cellar", "widgets": 1}
    assert admin.get("/api/dashboards/cellar").status == 404
    # viewers read, they do not edit
    viewer = ui.token("viewer", "dash-viewer")
    assert viewer.get("/api/dashboards").status == 200
    assert viewer.put("/api/dashboards/living_room", {"title": "mine"}).status == 403


def test_templates_from_instances(ui: WebDaemon, admin: Web) -> None:
    ui.d.wait_for(lambda: len(admin.ok("GET", "/api/datapoints?prefix=bms_1.&q=cells")
                              ["datapoints"]) == 16, what="bms cells")
    ui.d.wait_for(lambda: admin.get("/api/datapoints/meter_1.flow").status == 200,
                  what="meter values")
    bms = admin.ok("POST", "/api/dashboards/template", {"instance": "bms_1"}, status=201)
    assert bms["id"] == "bms_1"
    kinds = [w["type"] for w in bms["widgets"].values()]
    assert {"instance", "gauge", "bars", "setpoint", "value", "trend"} <= set(kinds)
    known = {d["address"] for d in admin.ok(
        "GET", "/api/datapoints?prefix=bms_1.&q=.&limit=1000")["datapoints"]}
    bound = {b["source"] for w in bms["widgets"].values() for b in w["bindings"].values()}
    assert bound and bound <= known  # every binding is a datapoint the instance publishes
    # the same instance again: a second dashboard, not an overwrite
    again = admin.ok("POST", "/api/dashboards/template", {"instance": "bms_1"}, status=201)
    assert again["id"] == "bms_1_2"
    meter = admin.ok("POST", "/api/dashboards/template",
                     {"instance": "meter_1", "id": "heat"}, status=201)
    gauge = next(w for w in meter["widgets"].values() if w["type"] == "gauge")
    assert gauge["bindings"]["value"]["source"] == "meter_1.power"
    res = admin.post("/api/dashboards/template", {"instance": "nope"})
    assert res.status == 404 and "nope" in res.json()["error"]
    assert admin.post("/api/dashboards/template", {}).status == 400


async def _live(url: str, token: str, msg: dict[str, Any], want: int) -> list[Any]:
    req = tornado.httpclient.HTTPRequest(url, headers={"Authorization": f"Bearer {token}"})
    conn = await tornado.websocket.websocket_connect(req)
    seen: list[Any] = []
    try:
        conn.write_message(json.dumps(msg))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(seen) < want:
            doc = json.loads(await asyncio.wait_for(conn.read_message(), 5))
            if doc["type"] in ("changes", "problem"):
                seen += doc.get("items") or [doc]
    finally:
        conn.close()
    return seen


def test_live_socket_sends_exactly_the_subscribed_addresses(ui: WebDaemon, admin: Web) -> None:
    url = ui.base.replace("http", "ws") + "/api/ws"
    wanted = {"bms_1.soc", "bms_1.cells.3", "plc_1.MAIN.fTemp"}
    items = asyncio.run(_live(url, admin.token or "", {"op": "subscribe", "prefixes": [],
                                                       "addresses": sorted(wanted)}, 12))
    assert len(items) >= 12
    assert {item[0] for item in items} == wanted
    # prefixes and addresses together
    items = asyncio.run(_live(url, admin.token or "", {
        "op": "subscribe", "prefixes": ["meter_1."], "addresses": ["bms_1.soc"]}, 20))
    assert {i[0] for i in items} - {"bms_1.soc"} and all(
        i[0] == "bms_1.soc" or i[0].startswith("meter_1.") for i in items)
    # bounded: too many addresses is refused with the reason
    problem = asyncio.run(_live(url, admin.token or "", {
        "op": "subscribe", "prefixes": [], "addresses": [f"a.{n}" for n in range(2001)]}, 1))
    assert problem[0]["type"] == "problem" and "2000" in problem[0]["detail"]


def test_blob_datapoints_are_served_for_the_image_widget(ui: WebDaemon, admin: Web) -> None:
    image = png(4, 3)
    send_blob(ui.d.run, "cam", "snapshot", image)
    ui.d.wait_for(lambda: admin.get("/api/blobs/cam.snapshot").status == 200, what="blob")
    res = admin.get("/api/blobs/cam.snapshot")
    assert res.headers["Content-Type"] == "image/png" and res.body == image
    assert admin.ok("GET", "/api/datapoints/cam.snapshot")["value"] == {"blob_bytes": len(image)}
    missing = admin.get("/api/blobs/plc_1.MAIN.fTemp")  # a value, not a blob
    assert missing.status == 404 and "no blob" in missing.json()["error"]
    assert Web(ui.base).get("/api/blobs/cam.snapshot").status == 401
