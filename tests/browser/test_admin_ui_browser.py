"""The admin UI in a real browser against a real daemon with the simulated demo plant:
log in, watch live numbers, stop/start, kill, browse and write datapoints, edit routes,
panic through the countdown and recover, and every page at phone width."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.integration.admin_ui.web import WebDaemon
from tests.integration.daemon import sim

DEMO = [
    sim("plc_001", rate_hz=2, name="PLC Keller", critical=True, failsafe={"MAIN.setpoint": 15}),
    sim("bms_001", "bms", rate_hz=2, name="Battery BMS"),
    sim("inverter_001", "inverter", rate_hz=1, name="PV inverter"),
    sim("meter_001", "meter", rate_hz=1, name="Heat meter"),
    sim("crashy", "meter", rate_hz=1, name="Crashing meter",
        fault={"kind": "crash", "after_s": 0.3}),
    sim("spammy", "meter", rate_hz=1, name="Chatty meter", fault={"kind": "spam", "pps": 400},
        limits={"max_pps": 50}),
]
NO_VALUE = "\u2013"  # the en dash the UI shows for "none"
FAST_GIVE_UP = {"restart": {"base_s": 0.1, "flap_max": 2, "flap_window_s": 60}}
ROUTES = [{"id": "pv_power_to_log", "from": "inverter_001.power", "to": "log.energy",
           "condition": "value > 100"},
          {"id": "soc_to_log", "from": "bms_001.soc", "to": "log.energy",
           "transform": "round(0)"}]


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    w = WebDaemon(tmp_path_factory.mktemp("browser"), DEMO, ROUTES,
                  settings=FAST_GIVE_UP).start()
    yield w
    w.close()


@pytest.fixture(scope="module")
def errors() -> list[str]:
    return []


@pytest.fixture(scope="module")
def page(browser: Any, ui: WebDaemon, errors: list[str]):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    # refused requests the tests make on purpose show up as "Failed to load resource"
    pg.on("console", lambda m: m.type == "error" and "Failed to load resource" not in m.text
          and errors.append(f"console: {m.text}"))
    pg.set_default_timeout(15_000)
    pg.goto(ui.base + "/")
    pg.fill("#password", WebDaemon.PASSWORD)
    pg.click("#login-button")
    pg.wait_for_selector('.card[data-id="plc_001"]')
    yield pg
    ctx.close()


def card(page: Any, iid: str) -> Any:
    return page.locator(f'.card[data-id="{iid}"]')


def field(page: Any, iid: str, name: str) -> str:
    return card(page, iid).locator(f'[data-field="{name}"]').inner_text()


def wait_status(page: Any, iid: str, status: str) -> None:
    card(page, iid).locator(f".status-badge.status-{status}").wait_for(timeout=20_000)


def test_login_page_refuses_a_wrong_password(browser: Any, ui: WebDaemon, shots: Path) -> None:
    ctx = browser.new_context()
    pg = ctx.new_page()
    pg.goto(ui.base + "/")
    assert pg.url.endswith("/login")
    pg.fill("#password", "not the password")
    pg.click("#login-button")
    pg.locator("#login-error").wait_for()
    assert "wrong" in pg.inner_text("#login-error")
    pg.screenshot(path=shots / "login.png")
    ctx.close()


def test_instances_show_live_numbers(page: Any, ui: WebDaemon, shots: Path) -> None:
    for iid in ("plc_001", "bms_001", "inverter_001", "meter_001", "broker", "admin-ui"):
        wait_status(page, iid, "running")
    first = field(page, "bms_001", "uptime_seconds")
    page.wait_for_function(
        """([sel, old]) => document.querySelector(sel).textContent !== old""",
        arg=['.card[data-id="bms_001"] [data-field="uptime_seconds"]', first])
    page.wait_for_function(
        """() => parseFloat(document.querySelector(
             '.card[data-id="bms_001"] [data-field="pps_out"]').textContent) > 0""")
    assert float(field(page, "bms_001", "memory_mb")) > 5
    points = card(page, "bms_001").locator(".spark.cpu polyline").get_attribute("points")
    assert points and len(points.split()) >= 2  # the sparkline has history
    assert "critical" in card(page, "plc_001").inner_text()
    wait_status(page, "crashy", "error")  # gave up after repeated crashes
    assert "exited unexpectedly" in field(page, "crashy", "last_error")
    page.select_option("#sort", "ram")
    page.screenshot(path=shots / "instances.png", full_page=True)
    page.select_option("#sort", "name")


def test_spam_suspension_shows_the_rate_and_reactivates(page: Any, ui: WebDaemon) -> None:
    wait_status(page, "spammy", "suspended_by_spam")
    warn = field(page, "spammy", "warn")
    assert re.search(r"suspended by the spam guard at \d+ pps \(limit 50 pps\)", warn), warn
    button = card(page, "spammy").locator('[data-action="reactivate"]')
    assert button.is_visible()
    assert not card(page, "bms_001").locator('[data-action="reactivate"]').is_visible()
    button.click()
    ui.d.wait_for(lambda: any("suspended_by_spam -> starting" in e["line"]
                              for e in ui.d.call("logs", id="spammy", n=200)),
                  what="reactivated")


def test_stop_and_start_an_instance(page: Any, ui: WebDaemon) -> None:
    card(page, "meter_001").locator('[data-action="stop"]').click()
    wait_status(page, "meter_001", "stopped")
    assert ui.d.instance("meter_001")["status"] == "stopped"
    assert field(page, "meter_001", "pid") == NO_VALUE
    start = card(page, "meter_001").locator('[data-action="start"]')
    start.wait_for()
    page.wait_for_function("""() => !document.querySelector(
        '.card[data-id="meter_001"] [data-action="start"]').disabled""")
    start.click()
    wait_status(page, "meter_001", "running")
    assert ui.d.instance("meter_001")["status"] == "running"


def test_kill_warns_for_a_critical_instance_and_it_comes_back(page: Any, ui: WebDaemon) -> None:
    pid = ui.d.instance("plc_001")["pid"]
    card(page, "plc_001").locator('[data-action="kill"]').click()
    dialog = page.locator("#dialog")
    dialog.wait_for()
    assert "CRITICAL" in dialog.inner_text()
    dialog.locator('button[data-value="true"]').click()
    page.wait_for_function(
        """([sel, old, none]) => { const t = document.querySelector(sel).textContent;
                                   return t !== old && t !== none; }""",
        arg=['.card[data-id="plc_001"] [data-field="pid"]', str(pid), NO_VALUE], timeout=20_000)
    wait_status(page, "plc_001", "running")
    inst = ui.d.instance("plc_001")
    assert inst["pid"] != pid and inst["status"] == "running"
    assert field(page, "plc_001", "pid") == str(inst["pid"])


def test_browse_the_tree_and_write_a_value(page: Any, ui: WebDaemon, shots: Path) -> None:
    page.click('#nav a[data-page="datapoints"]')
    page.locator('.node[data-prefix="bms_001."]').click()
    page.locator('tr[data-address="bms_001.voltage"]').wait_for()
    assert page.locator('.node[data-prefix="bms_001.cells."]').inner_text().split()[-1] == "16"
    cell = page.locator('tr[data-address="bms_001.current"] [data-field="value"]')
    before = cell.inner_text()
    page.wait_for_function("""([sel, old]) => document.querySelector(sel).textContent !== old""",
                           arg=['tr[data-address="bms_001.current"] [data-field="value"]', before])
    row = page.locator('tr[data-address="bms_001.setpoint"]')
    row.locator("input").fill("12.5")
    row.locator('button[type="submit"]').click()
    page.wait_for_function(
        """() => document.querySelector(
             'tr[data-address="bms_001.setpoint"] [data-field="value"]').textContent === '12.5'""")
    assert ui.d.call("get", address="bms_001.setpoint")["value"] == 12.5
    assert page.locator('tr[data-address="bms_001.voltage"] input').count() == 0  # read-only
    page.screenshot(path=shots / "datapoints.png", full_page=True)
    page.click('#crumbs a:text-is("all")')
    page.locator('.node[data-prefix="plc_001."]').wait_for()
    page.fill("#dp-search", "ftemp")
    page.press("#dp-search", "Enter")
    page.locator('tr[data-address="plc_001.MAIN.fTemp"]').wait_for()
    assert page.locator("#dp-table tbody tr").count() == 1


def test_edit_a_route_and_see_the_validation_error(page: Any, ui: WebDaemon,
                                                   shots: Path) -> None:
    page.click('#nav a[data-page="routes"]')
    page.locator('tr[data-route="soc_to_log"]').wait_for()
    page.wait_for_function("""() => document.querySelector('#routes-editor').value.includes(
                              'soc_to_log')""")
    doc = json.loads(page.input_value("#routes-editor"))
    doc["routes"][1]["transform"] = "explode(3)"
    page.fill("#routes-editor", json.dumps(doc, indent=2))
    page.click("#routes-validate")
    problem = page.locator("#routes-problems li.error").first
    problem.wait_for()
    assert "explode" in problem.inner_text() and "soc_to_log" in problem.inner_text()
    before = (ui.d.config / "routing.json").read_text()
    page.click("#routes-save")
    page.wait_for_function("""() => document.querySelector('#routes-problems')
                              .textContent.includes('invalid')""")
    assert (ui.d.config / "routing.json").read_text() == before
    page.fill("#test-address", "bms_001.soc")
    page.fill("#test-value", "61.4")
    page.click("#test-run")
    page.locator("#test-result li").first.wait_for()
    assert "log.energy = 61" in page.inner_text("#test-result")
    page.screenshot(path=shots / "routes.png", full_page=True)


def test_add_and_delete_a_connection_from_the_form(page: Any, ui: WebDaemon,
                                                   shots: Path) -> None:
    page.click('#nav a[data-page="connections"]')
    page.locator('.card[data-id="bms_001"]').wait_for()
    page.click("#add-connection")
    page.select_option("#conn-type", "simulator")
    page.fill("#conn-id", "meter_002")
    page.fill("#conn-name", "Second meter")
    page.select_option("#cfg-profile", label="meter")
    page.screenshot(path=shots / "connection-form.png")
    page.click('#dialog button[data-value="true"]')
    page.locator('.card[data-id="meter_002"]').wait_for(timeout=20_000)
    ui.d.wait_state("meter_002", "running")
    page.screenshot(path=shots / "connections.png", full_page=True)
    page.locator('.card[data-id="meter_002"] [data-action="delete"]').click()
    page.click('#dialog button[data-value="true"]')
    page.locator('.card[data-id="meter_002"]').wait_for(state="detached", timeout=20_000)


def test_logs_errors_system_plugins(page: Any, ui: WebDaemon, shots: Path) -> None:
    page.goto(ui.base + "/#/logs?instance=plc_001")
    page.wait_for_function("""() => document.querySelector('#log-lines')
                              .textContent.includes('kill requested')""")
    assert page.is_checked("#log-follow")
    page.screenshot(path=shots / "logs.png", full_page=True)
    page.click('#nav a[data-page="errors"]')
    crash = page.locator("#error-list details", has_text="SimulatedCrash").first
    crash.locator("summary").click()
    assert "Traceback" in crash.locator("pre.trace").inner_text()
    page.screenshot(path=shots / "errors.png", full_page=True)
    page.click('#nav a[data-page="system"]')
    page.locator('[data-gauge="CPU"]').wait_for()
    assert re.search(r"\d+(\.\d)? %", page.inner_text('[data-gauge="Memory"]'))
    page.screenshot(path=shots / "system.png", full_page=True)
    page.click('#nav a[data-page="plugins"]')
    page.locator('#plugin-cards .card[data-id="simulator"]').wait_for()
    page.locator('#plugin-cards .card[data-id="simulator"] button', has_text="README").click()
    page.locator("#dialog .markdown").wait_for()
    page.screenshot(path=shots / "plugins.png", full_page=True)
    page.click('#dialog button[data-value="true"]')


def test_panic_through_the_countdown_and_recover(page: Any, ui: WebDaemon,
                                                 shots: Path) -> None:
    page.click('#nav a[data-page="instances"]')
    wait_status(page, "plc_001", "running")
    page.click("#panic-button")
    confirm = page.locator("#panic-confirm")
    confirm.wait_for()
    assert confirm.is_disabled()  # armed only after the countdown
    page.fill("#panic-why", "browser drill")
    page.wait_for_function("() => !document.querySelector('#panic-confirm').disabled",
                           timeout=8_000)
    confirm.click()
    page.locator("#panic-banner").wait_for(state="visible", timeout=20_000)
    for iid in ("plc_001", "bms_001", "inverter_001", "meter_001"):
        wait_status(page, iid, "stopped")
    assert page.inner_text("#mode-badge") == "panic"
    assert "browser drill" in page.inner_text("#panic-banner")
    assert ui.d.status()["mode"] == "panic"
    assert card(page, "bms_001").locator('[data-action="start"]').is_disabled()
    page.screenshot(path=shots / "panic.png", full_page=True)
    page.click("#recover-button")
    page.click('#dialog button[data-value="true"]')
    page.locator("#panic-banner").wait_for(state="hidden", timeout=20_000)
    wait_status(page, "plc_001", "running")
    assert ui.d.status()["mode"] == "normal"


# Text nodes without a space that the browser laid out on more than one line.
MID_WORD_WRAPS = """() => {
  const out = [];
  for (const el of document.querySelectorAll("td.value, .card .fig, .gauge .big, #page td")) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.data.trim() || /\\s/.test(n.data.trim())) continue;
      const range = document.createRange();
      range.selectNodeContents(n);
      const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      if (tops.size > 1) out.push(n.data);
    }
  }
  return out;
}"""
# Nav links outside the screen (reachable only by a hidden horizontal scroll).
NAV_OFF_SCREEN = """() => [...document.querySelectorAll("#nav a")].filter((a) => {
  const r = a.getBoundingClientRect();
  return r.width === 0 || r.left < 0 || r.right > window.innerWidth;
}).map((a) => a.dataset.page)"""


def test_every_page_fits_a_phone(browser: Any, ui: WebDaemon, shots: Path) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                              has_touch=True)
    pg = ctx.new_page()
    pg.goto(ui.base + "/login")
    pg.fill("#password", WebDaemon.PASSWORD)
    pg.click("#login-button")
    pg.wait_for_selector('.card[data-id="plc_001"] .status-running')
    assert pg.evaluate(NAV_OFF_SCREEN) == []  # every page is one tap away
    for name in ("instances", "connections", "datapoints?prefix=bms_001.", "routes", "logs",
                 "errors", "system", "plugins"):
        pg.click(f'#nav a[data-page="{name.split("?")[0]}"]')
        if "?" in name:
            pg.goto(f"{ui.base}/#/{name}")
        pg.wait_for_timeout(400)
        width = pg.evaluate("document.documentElement.scrollWidth")
        assert width <= 392, f"{name} is {width}px wide on a 390px phone"
        assert pg.evaluate(MID_WORD_WRAPS) == [], f"{name}: values broken mid-word"
        pg.screenshot(path=shots / f"phone-{name.split('?')[0]}.png", full_page=True)
    ctx.close()


def test_no_script_errors_on_any_page(errors: list[str]) -> None:
    assert errors == []
