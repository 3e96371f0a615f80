"""The Discover page in a real browser: a job's progress bar moves and can be cancelled,
and a Modbus inverter or an M-Bus line goes from "Discover" to a running connection by
clicks alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import login
from tests.integration.admin_ui.web import WebDaemon
from tests.integration.ads.plc_server import PlcProcess
from tests.integration.ads.test_ads_worker import ads
from tests.integration.mbus.test_mbus_worker import Emulator
from tests.integration.modbus.peers import ServerThread
from tests.integration.modbus.test_modbus_discover import SilentDevice
from tests.integration.modbus.test_modbus_sunspec import IMAGE
from tests.integration.mqtt.mosquitto import Mosquitto, Watcher
from tests.integration.support import bluez_bus

SHUNT_MAC = "C0:11:22:33:44:55"


def discover_page(ctx: Any, w: WebDaemon) -> Any:
    """A page of ``ctx`` logged in to ``w`` and on the Discover page."""
    pg = login(ctx, w.base)
    pg.click('#nav a[data-page="discover"]')
    return pg


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDaemon]:
    w = WebDaemon(tmp_path_factory.mktemp("discover"), []).start()
    yield w
    w.close()


@pytest.fixture(scope="module")
def page(browser: Any, ui: WebDaemon) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(20_000)
    pg.goto(ui.base + "/")
    pg.fill("#password", WebDaemon.PASSWORD)
    pg.click("#login-button")
    pg.wait_for_selector("#nav")
    yield pg
    ctx.close()


def test_progress_moves_and_cancel_stops_the_job(page: Any, ui: WebDaemon,
                                                 shots: Path) -> None:
    silent = SilentDevice()
    try:
        page.click('#nav a[data-page="discover"]')
        page.fill("#discover-target", f"tcp://127.0.0.1:{silent.port}")
        page.fill("#discover-units", "1-100")
        page.click("#discover-start")
        page.wait_for_function("() => Number(document.querySelector("
                               "'#discover-progress [role=progressbar]')"
                               ".getAttribute('aria-valuenow')) >= 2")
        page.screenshot(path=str(shots / "discover-progress.png"))
        page.click("#discover-cancel")
        page.wait_for_selector("#discover-message:has-text('cancelled')")
        assert page.is_enabled("#discover-start")
        assert [j["state"] for j in ui.d.call("discover_list")] == ["cancelled"]
    finally:
        silent.close()


def test_from_discover_to_a_running_connection_by_clicks(page: Any, ui: WebDaemon,
                                                         shots: Path) -> None:
    inverter = ServerThread([1], registers=40200).start()
    try:
        for address, regs in IMAGE.items():
            inverter.set("holding", address, regs)
        page.click('#nav a[data-page="discover"]')
        page.fill("#discover-target", f"tcp://127.0.0.1:{inverter.port}")
        page.fill("#discover-units", "1-3")
        page.click("#discover-start")
        unit = page.locator('#discover-results .card[data-unit="1"]')
        unit.wait_for()
        assert "SunSpec models 1, 103" in unit.inner_text()
        assert "Fronius Symo 10.0-3-M" in unit.inner_text()
        page.screenshot(path=str(shots / "discover-found.png"))
        unit.locator("button", has_text="Create connection").click()
        page.fill("#review-id", "pv_roof")
        page.click('dialog button[data-value="true"]')
        page.wait_for_selector('.card[data-id="pv_roof"]')
        ui.d.wait_for(lambda: ui.d.call("get", address="pv_roof.inverter.W")["value"] == 5123,
                      what="the new connection reads the inverter")
    finally:
        inverter.close()


def test_mbus_meters_found_become_one_running_connection(page: Any, ui: WebDaemon,
                                                         testdata: Path, tmp_path: Path,
                                                         shots: Path) -> None:
    link = tmp_path / "ttyMBUS"
    emulator = Emulator(link, testdata, {"kamstrup_multical_601": 5,
                                         "EMU_EMU-Professional-375-M-Bus": 20})
    try:
        page.click('#nav a[data-page="discover"]')
        page.select_option("#discover-kind", "mbus")
        assert page.is_hidden("#discover-units") and page.is_visible("#discover-addresses")
        page.fill("#discover-target", str(link))
        page.fill("#discover-addresses", "4-21")
        page.click("#discover-start")
        page.locator('#discover-results .card[data-meter="32629"]').wait_for()
        assert "Heat: Outlet" in page.locator(
            '#discover-results .card[data-meter="6855817"]').inner_text()
        page.screenshot(path=str(shots / "discover-mbus.png"))
        page.click("#discover-create-line")
        page.fill("#review-id", "meters")
        page.click('dialog button[data-value="true"]')
        page.wait_for_selector('.card[data-id="meters"]')
        ui.d.wait_for(lambda: ui.d.call("get", address="meters.32629.online")["value"]
                      and ui.d.call("get", address="meters.6855817.online")["value"],
                      what="the new connection reads both meters")
    finally:
        emulator.stop()


def test_a_victron_shunt_in_range_becomes_a_connection_with_its_key(
        browser: Any, tmp_path: Path, testdata: Path, shots: Path) -> None:
    """Advertisements through bleak's BlueZ backend from the BlueZ stand-in (no radio)."""
    vectors = json.loads((testdata / "bms" / "vectors.json").read_text("utf-8"))["vectors"]
    shunt = next(v for v in vectors if v["id"] == "victron_smartshunt_battery_monitor")
    advertisers = [f"{SHUNT_MAC}/SmartShunt HQ2203/-70/0x02E1:"
                   f"{shunt['advertisement_hex'].replace(' ', '')}",
                   "A4:C1:38:00:00:01/xiaoxiang BMS/-60"]
    with bluez_bus(tmp_path, advertisers) as bus:
        w = WebDaemon(tmp_path / "ble", [], env={"DBUS_SYSTEM_BUS_ADDRESS": bus}).start()
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            pg = discover_page(ctx, w)
            pg.select_option("#discover-kind", "ble")
            pg.fill("#discover-target", "hci0")
            pg.fill("#discover-duration", "2")
            pg.click("#discover-start")
            row = pg.locator(f'#discover-devices tr[data-address="{SHUNT_MAC}"]')
            row.wait_for()
            assert "victron" in row.inner_text()
            row.locator("button", has_text="Create connection").wait_for()
            pg.screenshot(path=str(shots / "discover-ble.png"))
            row.locator("button", has_text="Create connection").click()
            pg.fill("#review-key", "00" * 16)
            assert "starting with af" in pg.inner_text("#review-key-problem")
            pg.fill("#review-key", shunt["key_hex"])
            assert pg.inner_text("#review-key-problem") == ""
            pg.fill("#review-id", "shunt")
            pg.click('dialog button[data-value="true"]')
            pg.wait_for_selector('.card[data-id="shunt"]')
            w.d.wait_for(lambda: w.d.call("get", address="shunt.soc")["quality"] == "good",
                         what="the shunt's readings")
        finally:
            ctx.close()
            w.close()


def test_browse_plc_symbols_and_publish_one(browser: Any, tmp_path: Path,
                                            shots: Path) -> None:
    plc = PlcProcess("127.0.0.4").start()
    w = WebDaemon(tmp_path / "ads", [ads("plc_1", plc, symbols=["MAIN.fTemp"])]).start()
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        pg = discover_page(ctx, w)
        pg.select_option("#discover-kind", "ads")
        pg.wait_for_selector('#discover-instance option[value="plc_1"]', state="attached")
        pg.click("#discover-start")
        pg.wait_for_selector("#browse-symbols")
        assert pg.is_checked('tr[data-path="MAIN.fTemp"] input')
        pg.fill("#browse-search", "fbBattery.f")
        row = pg.locator('tr[data-path="MAIN.fbBattery.fVoltage"]')
        assert "52.5" in row.inner_text() and "REAL" in row.inner_text()
        pg.screenshot(path=str(shots / "browse-ads.png"))
        row.locator("input").check()
        pg.click("#browse-apply")
        w.d.wait_for(lambda: w.d.call("get", address="plc_1.MAIN.fbBattery.fVoltage")
                     ["value"] == 52.5, what="the published symbol as a datapoint")
        assert w.d.call("get", address="plc_1.MAIN.fTemp")["quality"] == "good"
    finally:
        ctx.close()
        w.close()
        plc.stop()


def test_browse_mqtt_topics_and_subscribe_one(browser: Any, tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "mosquitto").start()
    client = Watcher(broker.port, ["unused/#"])
    w = WebDaemon(tmp_path / "mqtt", [{"id": "mq", "type": "mqtt", "config": {
        "host": "127.0.0.1", "port": broker.port, "subscribe": ["house/kitchen/#"]}}]).start()
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        client.publish("house/garage/door", "open", retain=True)
        client.publish("house/kitchen/temp", "21.5", retain=True)
        pg = discover_page(ctx, w)
        pg.select_option("#discover-kind", "mqtt")
        pg.wait_for_selector('#discover-instance option[value="mq"]', state="attached")
        pg.fill("#discover-filter", "house/#")
        pg.fill("#discover-duration", "1")
        pg.click("#discover-start")
        pg.wait_for_selector("#browse-topics")
        assert pg.is_checked('tr[data-topic="house/kitchen/temp"] input')
        door = pg.locator('tr[data-topic="house/garage/door"]')
        assert '"open"' in door.inner_text()
        door.locator("input").check()
        pg.click("#browse-apply")
        w.d.wait_for(lambda: w.d.call("get", address="mq.house/garage/door")["value"]
                     == "open", what="the subscribed topic as a datapoint")
    finally:
        ctx.close()
        w.close()
        client.close()
        broker.stop()
