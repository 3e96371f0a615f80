"""The Discover page in a real browser: a job's progress bar moves and can be cancelled,
and a Modbus inverter or an M-Bus line goes from "Discover" to a running connection by
clicks alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.admin_ui.web import WebDaemon
from tests.integration.mbus.test_mbus_worker import Emulator
from tests.integration.modbus.peers import ServerThread
from tests.integration.modbus.test_modbus_discover import SilentDevice
from tests.integration.modbus.test_modbus_sunspec import IMAGE


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
