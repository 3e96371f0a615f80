"""The Discover page in a real browser: a job's progress bar moves and can be cancelled,
and a Modbus inverter goes from "Discover" to a running connection by clicks alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.admin_ui.web import WebDaemon
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
