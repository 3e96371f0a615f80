"""The Dashboards page in a real browser against a real daemon with simulators: build a
dashboard by drag and drop, resize, reload and find it as it was; a switch's press
reaches the simulator and shows confirmed; a refused write shows failed with the reason;
a trend shows history recorded before the page opened; an operator writes but cannot
open Connections/Routes or stop an instance; a generated dashboard at 390 px wide stacks
in reading order."""

from __future__ import annotations

import json
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tests.integration.admin_ui.blobs import png, send_blob
from tests.integration.admin_ui.web import Web, WebDaemon
from tests.integration.daemon import sim

BROKEN = sim("broken", rate_hz=1)
BROKEN["config"]["write_fault"] = "device_error"  # the device refuses every write
PLANT = [sim("bms_001", "bms", rate_hz=2, name="Battery BMS"),
         sim("meter_001", "meter", rate_hz=2, name="Heat meter"),
         sim("cam", enabled=False), BROKEN]  # a camera whose snapshots the test publishes
OPERATOR = ("olga", "olga operator password")


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    w = WebDaemon(tmp_path_factory.mktemp("dash"), PLANT).start()
    yield w
    w.close()


@pytest.fixture(scope="module")
def admin(ui: WebDaemon) -> Web:
    return ui.admin()


@pytest.fixture(scope="module")
def errors() -> list[str]:
    return []


def login(browser: Any, ui: WebDaemon, errors: list[str], user: tuple[str, str] | None = None,
          **ctx_args: Any) -> Any:
    ctx = browser.new_context(**ctx_args)
    pg = ctx.new_page()
    pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    pg.on("console", lambda m: m.type == "error" and "Failed to load resource" not in m.text
          and errors.append(f"console: {m.text}"))
    pg.set_default_timeout(15_000)
    pg.goto(ui.base + "/login")
    if user is not None:
        pg.fill("#username", user[0])
    pg.fill("#password", user[1] if user is not None else WebDaemon.PASSWORD)
    pg.click("#login-button")
    pg.wait_for_selector("#nav")
    return pg


@pytest.fixture(scope="module")
def page(browser: Any, ui: WebDaemon, errors: list[str]):
    pg = login(browser, ui, errors, viewport={"width": 1280, "height": 900})
    yield pg
    pg.context.close()


def saved(page: Any) -> None:
    page.wait_for_selector('#dash-saved[data-state="saved"]:not(:empty)')


def layout_of(admin: Web, did: str) -> dict[str, dict[str, int]]:
    board = admin.ok("GET", f"/api/dashboards/{did}")
    return {wid: w["layout"] for wid, w in board["widgets"].items()}


def test_build_by_drag_and_drop_resize_and_reload(page: Any, ui: WebDaemon, admin: Web,
                                                  shots: Path) -> None:
    page.goto(ui.base + "/#/dashboards")
    page.wait_for_selector("#dash-empty:not([hidden])")
    page.click("#dash-edit")
    # drag "Value" from the palette onto the grid, bind it through the picker
    page.drag_and_drop('#dash-palette [data-kind="value"]', "#dash-grid",
                       target_position={"x": 40, "y": 30})
    page.fill(".dp-search", "bms_001.soc")
    page.click('.dp-results li[data-address="bms_001.soc"]')
    page.fill('input[name="stale_s"]', "30")
    page.click('#dialog button[data-value="true"]')
    page.wait_for_selector('.grid-stack-item[data-kind="value"] [data-field="value"]:not(:empty)')
    page.wait_for_function("""() => /\\d/.test(document.querySelector(
        '.grid-stack-item[data-kind="value"] [data-field="value"]').textContent)""")
    saved(page)
    # a second widget by click: a gauge on the pack voltage
    page.click('#dash-palette [data-kind="gauge"]')
    page.click('.dp-results li.dp-node[data-prefix="bms_001."]')  # browse the tree
    page.click('.dp-results li[data-address="bms_001.voltage"]')
    page.fill('input[name="max"]', "60")
    page.click('#dialog button[data-value="true"]')
    page.wait_for_selector('.grid-stack-item[data-kind="gauge"]')
    saved(page)
    did = admin.ok("GET", "/api/dashboards")["dashboards"][0]["id"]
    before = layout_of(admin, did)
    assert len(before) == 2
    value_id = page.get_attribute('.grid-stack-item[data-kind="value"]', "data-id")
    # move the value widget right by dragging its header
    head = page.locator('.grid-stack-item[data-kind="value"] .w-title').bounding_box()
    grid = page.locator("#dash-grid").bounding_box()
    page.mouse.move(head["x"] + 10, head["y"] + 5)
    page.mouse.down()
    page.mouse.move(head["x"] + 60, head["y"] + 10, steps=5)
    page.mouse.move(grid["x"] + grid["width"] * 0.62, head["y"] + 10, steps=10)
    page.mouse.up()
    page.wait_for_function(f"""() => {{
        const el = document.querySelector('.grid-stack-item[data-id="{value_id}"]');
        return Number(el.getAttribute('gs-x')) >= 6; }}""")
    saved(page)
    # resize it from its bottom-right corner
    page.hover(f'.grid-stack-item[data-id="{value_id}"]')
    handle = page.locator(f'.grid-stack-item[data-id="{value_id}"] .ui-resizable-se')
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 40, box["y"] + 40, steps=5)
    page.mouse.move(box["x"] + grid["width"] / 6, box["y"] + 120, steps=10)
    page.mouse.up()
    page.wait_for_function(f"""() => Number(document.querySelector(
        '.grid-stack-item[data-id="{value_id}"]').getAttribute('gs-w')) > 2""")
    saved(page)
    after = layout_of(admin, did)
    assert after[value_id]["x"] >= 6 and after[value_id]["w"] > 2 and after[value_id]["h"] > 1
    # undo takes the last change (the resize) back, and that is saved too
    page.click("#dash-undo")
    saved(page)
    undone = layout_of(admin, did)
    assert undone[value_id]["w"] == 2 and undone[value_id]["x"] >= 6
    page.click("#dash-undo")  # ... and the move before it
    saved(page)
    # delete the gauge, then undo the delete
    gauge_id = page.get_attribute('.grid-stack-item[data-kind="gauge"]', "data-id")
    page.click(f'.grid-stack-item[data-id="{gauge_id}"] [data-act="delete"]')
    page.wait_for_selector(f'.grid-stack-item[data-id="{gauge_id}"]', state="detached")
    saved(page)
    assert set(layout_of(admin, did)) == {value_id}
    page.click("#dash-undo")
    page.wait_for_selector(f'.grid-stack-item[data-id="{gauge_id}"]')
    saved(page)
    assert set(layout_of(admin, did)) == {value_id, gauge_id}
    page.screenshot(path=shots / "dashboard-edit.png", full_page=True)
    page.click("#dash-edit")  # done: view mode
    page.screenshot(path=shots / "dashboard-built.png", full_page=True)
    # reload: the dashboard is as it was left
    expected = layout_of(admin, did)
    page.reload()
    page.wait_for_selector(f'.grid-stack-item[data-id="{value_id}"]')
    for wid, lay in expected.items():
        el = page.locator(f'.grid-stack-item[data-id="{wid}"]')
        # gridstack leaves out attributes at their defaults (x, y 0; w, h 1)
        got = {k: int(el.get_attribute(f"gs-{k}") or (1 if k in "wh" else 0))
               for k in ("x", "y", "w", "h")}
        assert got == {k: lay.get(k, 0) for k in ("x", "y", "w", "h")}, wid
    assert not page.locator("#dash-editbar").is_visible()  # view mode after a reload


def put_board(admin: Web, did: str, widgets: dict[str, Any]) -> None:
    admin.ok("PUT", f"/api/dashboards/{did}", {"title": did, "widgets": widgets})


def test_switch_press_reaches_the_simulator_and_shows_confirmed(page: Any, ui: WebDaemon,
                                                                admin: Web, shots: Path
                                                                ) -> None:
    put_board(admin, "controls", {
        "sw": {"type": "switch", "title": "Heating", "layout": {"x": 0, "y": 0, "w": 3, "h": 1},
               "bindings": {"value": {"source": "meter_001.setpoint"}}},
        "ro": {"type": "switch", "title": "Read-only", "layout": {"x": 3, "y": 0, "w": 3, "h": 1},
               "bindings": {"value": {"source": "meter_001.flow"}}},
        "sp": {"type": "setpoint", "title": "Setpoint", "layout": {"x": 6, "y": 0, "w": 3, "h": 2},
               "bindings": {"value": {"source": "meter_001.setpoint"}},
               "options": {"min": 0, "max": 50, "step": 0.5}},
        "broken": {"type": "setpoint", "title": "Refusing", "layout": {"x": 9, "y": 0, "w": 3,
                                                                      "h": 2},
                   "bindings": {"value": {"source": "broken.MAIN.setpoint"}}}})
    page.goto(ui.base + "/#/dashboards?d=controls")
    sw = page.locator('.grid-stack-item[data-id="sw"]')
    sw.locator(".w-switch").wait_for()
    page.wait_for_function("""() => document.querySelector(
        '.grid-stack-item[data-id="sw"] .w-state')?.textContent === 'off'""")
    sw.locator(".w-switch").click()
    sw.locator('[data-field="write"][data-state="confirmed"]').wait_for()
    assert ui.d.call("get", address="meter_001.setpoint")["value"] == 1.0
    # the switch shows the reported state (drawn on the next animation frame)
    sw.locator('.w-switch[aria-checked="true"]').wait_for()
    # a write the device side refuses shows failed with the reason, never confirmed
    ro = page.locator('.grid-stack-item[data-id="ro"]')
    ro.locator(".w-switch").click()
    ro.locator('[data-field="write"][data-state="failed"]').wait_for()
    assert "read-only" in ro.locator('[data-field="write"]').inner_text()
    # the device takes the command and refuses it: failed, with the device's reason
    broken = page.locator('.grid-stack-item[data-id="broken"]')
    broken.locator(".w-input").fill("30")
    broken.locator('button[type="submit"]').click()
    broken.locator('[data-field="write"][data-state="failed"]').wait_for()
    assert "the device refused the write (simulated)" in broken.locator(
        '[data-field="write"]').inner_text()
    assert ui.d.call("get", address="broken.MAIN.setpoint")["value"] != 30
    page.screenshot(path=shots / "dashboard-writes.png")
    # the setpoint writes a number and shows it confirmed
    sp = page.locator('.grid-stack-item[data-id="sp"]')
    sp.locator(".w-input").fill("21.5")
    sp.locator('button[type="submit"]').click()
    sp.locator('[data-field="write"][data-state="confirmed"]').wait_for()
    assert ui.d.call("get", address="meter_001.setpoint")["value"] == 21.5


def test_template_dashboard_stacks_at_phone_width(browser: Any, ui: WebDaemon, admin: Web,
                                                  errors: list[str], shots: Path) -> None:
    ui.d.wait_for(lambda: len(admin.ok("GET", "/api/datapoints?prefix=bms_001.&q=cells")
                              ["datapoints"]) == 16, what="bms cells published")
    made = admin.ok("POST", "/api/dashboards/template", {"instance": "bms_001"}, status=201)
    pg = login(browser, ui, errors, viewport={"width": 390, "height": 844}, is_mobile=True,
               has_touch=True)
    pg.goto(f"{ui.base}/#/dashboards?d={made['id']}")
    pg.wait_for_selector('.grid-stack-item[data-kind="bars"] [data-field="stats"]')
    pg.wait_for_function("""() => document.querySelector(
        '.grid-stack-item[data-kind="bars"] [data-field="stats"]').textContent.includes('mV')""")
    pg.wait_for_timeout(300)
    assert pg.evaluate("document.documentElement.scrollWidth") <= 392
    boxes = pg.evaluate("""() => [...document.querySelectorAll('.grid-stack-item')].map((el) => {
        const r = el.getBoundingClientRect();
        return {id: el.dataset.id, x: r.x, y: r.y, w: r.width, h: r.height}; })""")
    assert len(boxes) == len(made["widgets"])
    for b in boxes:  # one column: every widget the full width
        assert b["x"] < 20 and b["w"] > 330, b
    ys = [b["y"] for b in sorted(boxes, key=lambda b: b["y"])]
    assert all(later >= earlier + 40 for earlier, later in pairwise(ys))
    # reading order: the order of the desktop layout (row by row)
    desktop = sorted(made["widgets"].items(), key=lambda kv: (kv[1]["layout"]["y"],
                                                              kv[1]["layout"]["x"]))
    phone = [b["id"] for b in sorted(boxes, key=lambda b: b["y"])]
    assert phone == [wid for wid, _ in desktop]
    assert not pg.locator("#dash-edit").is_visible() or pg.locator("#dash-edit").is_enabled()
    pg.screenshot(path=shots / "phone-dashboard.png", full_page=True)
    pg.context.close()


PLOTTED = """(sel) => { const p = document.querySelector(sel)?.uplot;
    return p ? {x: p.data[0], y: p.data[1], min: p.scales.x.min, max: p.scales.x.max} : null; }"""


def test_trend_shows_history_recorded_before_the_page_opened(page: Any, ui: WebDaemon,
                                                            admin: Web, shots: Path) -> None:
    def recorded() -> list[list[float]] | None:
        res = admin.get("/api/history?address=bms_001.voltage&max_points=10000")
        return res.json()["points"] if res.status == 200 else None

    # the simulator's pack voltage changes every tick; the historian records it
    history = ui.d.wait_for(lambda: (p := recorded()) and len(p) >= 8 and p, 30,
                            "pack voltage history")
    opened_s = time.time()
    assert history[0][0] / 1000 < opened_s - 5
    assert len(history) < 600  # so the chart's query (max_points 600) gets them as stored
    put_board(admin, "trend", {"t": {
        "type": "trend", "title": "Pack voltage", "layout": {"x": 0, "y": 0, "w": 8, "h": 3},
        "bindings": {"value": {"source": "bms_001.voltage"}}, "options": {"range_s": 900}}})
    page.goto(ui.base + "/#/dashboards?d=trend")
    sel = '.grid-stack-item[data-id="t"] .w-chart'
    # a live value may be drawn before the history query returns: wait for the history
    first_s = history[0][0] / 1000
    page.wait_for_function(f"""() => ({PLOTTED})('{sel}')?.x.some(
        (t) => Math.abs(t - {first_s}) < 0.0005)""")
    plotted = page.evaluate(PLOTTED, sel)
    # every value recorded before the page opened is on the chart, at its time and value
    assert history == [[p[0], p[1], p[1], p[1], p[1]] for p in history]  # as stored
    stored = {round(p[0] / 1000, 3): p[1] for p in history}
    drawn = {round(x, 3): y for x, y in zip(plotted["x"], plotted["y"], strict=True)
             if y is not None}
    assert {t: drawn.get(t) for t in stored} == stored
    assert sum(1 for t in drawn if t < opened_s - 5) >= 3
    assert plotted["min"] <= min(stored)  # the oldest is in view, not scrolled away
    assert page.locator(sel + " canvas").count() == 1
    assert page.locator('.grid-stack-item[data-id="t"] [data-field="history"]'
                        ).inner_text() == ""
    # live values go on after the history
    page.wait_for_function(f"() => ({PLOTTED})('{sel}').x.at(-1) > {time.time() + 1}")
    page.screenshot(path=shots / "dashboard-trend-history.png")


def test_trend_without_history_says_so(page: Any, ui: WebDaemon, admin: Web) -> None:
    assert admin.get("/api/history?address=bms_001.nothing").status == 404
    put_board(admin, "nohist", {"nt": {
        "type": "trend", "title": "Nothing", "layout": {"x": 0, "y": 0, "w": 8, "h": 3},
        "bindings": {"value": {"source": "bms_001.nothing"}}}})
    page.goto(ui.base + "/#/dashboards?d=nohist")
    page.wait_for_function("""() => document.querySelector(
        '.grid-stack-item[data-id="nt"] [data-field="history"]')?.textContent
        === 'no history yet (live values only)'""")
    page.locator('.grid-stack-item[data-id="nt"] .uplot').wait_for()


def test_operator_writes_but_cannot_configure_or_stop(browser: Any, ui: WebDaemon,
                                                       admin: Web, errors: list[str],
                                                       shots: Path) -> None:
    done = ui.d.ctl("user", "add", OPERATOR[0], "--role", "operator", input=OPERATOR[1] + "\n")
    assert done.returncode == 0, done.stderr
    put_board(admin, "operator", {
        "op_sw": {"type": "switch", "title": "Heating",
                  "layout": {"x": 0, "y": 0, "w": 3, "h": 1},
                  "bindings": {"value": {"source": "meter_001.setpoint"}}},
        "op_tile": {"type": "instance", "title": "Meter",
                    "layout": {"x": 3, "y": 0, "w": 3, "h": 2},
                    "options": {"instance": "meter_001"}}})
    pg = login(browser, ui, errors, OPERATOR, viewport={"width": 1280, "height": 900})
    pg.locator('#user-name:text-is("olga (operator)")').wait_for()
    pg.goto(ui.base + "/#/dashboards?d=operator")
    sw = pg.locator('.grid-stack-item[data-id="op_sw"]')
    pg.wait_for_function("""() => ['on', 'off'].includes(document.querySelector(
        '.grid-stack-item[data-id="op_sw"] .w-state')?.textContent)""")
    was_on = sw.locator(".w-state").inner_text() == "on"
    sw.locator(".w-switch").click()
    sw.locator('[data-field="write"][data-state="confirmed"]').wait_for()
    assert bool(ui.d.call("get", address="meter_001.setpoint")["value"]) is not was_on
    assert pg.locator("#dash-edit").is_visible()  # operators edit dashboards
    tile = pg.locator('.grid-stack-item[data-id="op_tile"]')
    tile.locator('[data-field="status"]:text-is("running")').wait_for()
    assert not tile.locator("button", has_text="Restart").is_visible()
    # the UI: no link to Connections or Routes, and typing the address is refused
    for name, title in (("connections", "Connections"), ("routes", "Routes")):
        assert not pg.locator(f'#nav a[data-page="{name}"]').is_visible()
        pg.goto(f"{ui.base}/#/{name}")
        refused = pg.locator("#page-refused")
        refused.wait_for()
        assert refused.inner_text() == f"The operator role may not open {title}."
        assert pg.locator("#add-connection, .panel.admin-only textarea").count() == 0
    pg.screenshot(path=shots / "operator-refused.png")
    # the API refuses this session too: no configuration, no lifecycle
    pid = ui.d.instance("meter_001")["pid"]
    answers = pg.evaluate("""async () => {
        const {api} = await import('/static/js/api.js');
        const out = {};
        for (const [m, p, b] of [['POST', '/api/admin/instances/meter_001/stop'],
                                 ['PUT', '/api/router/routes', {version: '1.0', routes: []}],
                                 ['POST', '/api/connections', {version: '1.0', connections: []}]]) {
          try { await api(m, p, b); out[p] = 200; } catch (e) { out[p] = [e.status, e.detail]; }
        }
        return out; }""")
    refusal = [403, {"needed": "admin", "have": "operator"}]
    assert answers == {"/api/admin/instances/meter_001/stop": refusal,
                       "/api/router/routes": refusal, "/api/connections": refusal}
    assert ui.d.instance("meter_001")["pid"] == pid
    assert ui.d.instance("meter_001")["status"] == "running"
    pg.context.close()


def test_export_one_dashboard_from_the_page(page: Any, ui: WebDaemon, admin: Web) -> None:
    page.goto(ui.base + "/#/dashboards?d=controls")
    page.wait_for_selector('.grid-stack-item[data-id="sw"]')
    with page.expect_download() as dl:
        page.click("#dash-export")
    doc = json.loads(Path(dl.value.path()).read_text())
    assert set(doc["dashboards"]) == {"controls"}
    assert set(doc["widgets"]) == {"sw", "ro", "sp", "broken"}


def test_image_widget_shows_a_blob_datapoint(page: Any, ui: WebDaemon, admin: Web) -> None:
    send_blob(ui.d.run, "cam", "snapshot", png(8, 6))
    ui.d.wait_for(lambda: admin.get("/api/blobs/cam.snapshot").status == 200, what="blob")
    put_board(admin, "camera", {"img": {
        "type": "image", "title": "Door", "layout": {"x": 0, "y": 0, "w": 3, "h": 3},
        "bindings": {"value": {"source": "cam.snapshot"}}}})
    page.goto(ui.base + "/#/dashboards?d=camera")
    page.wait_for_function("""() => {
        const img = document.querySelector('.grid-stack-item[data-id="img"] img');
        return img && img.complete && img.naturalWidth === 8; }""")


def test_value_goes_stale_when_its_device_stops(page: Any, ui: WebDaemon, admin: Web,
                                                shots: Path) -> None:
    put_board(admin, "stale", {"v": {
        "type": "value", "title": "Flow", "layout": {"x": 0, "y": 0, "w": 3, "h": 1},
        "bindings": {"value": {"source": "meter_001.flow"}}, "options": {"stale_s": 2}}})
    page.goto(ui.base + "/#/dashboards?d=stale")
    tile = page.locator('.grid-stack-item[data-id="v"] .w-body')
    page.wait_for_function("""() => /\\d/.test(document.querySelector(
        '.grid-stack-item[data-id="v"] [data-field="value"]')?.textContent)""")
    assert "stale" not in (tile.get_attribute("class") or "")
    admin.ok("POST", "/api/admin/instances/meter_001/stop")
    page.locator('.grid-stack-item[data-id="v"] .w-body.stale').wait_for(timeout=20_000)
    assert "stale: no update for" in tile.inner_text()
    page.screenshot(path=shots / "dashboard-stale.png")
    admin.ok("POST", "/api/admin/instances/meter_001/start")


def test_no_script_errors(errors: list[str]) -> None:
    assert errors == []
