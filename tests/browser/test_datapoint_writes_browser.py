"""A write from the Datapoints page in a real browser: pending, then confirmed or failed
with the device's reason; a datapoint a route writes says so, and its write warns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import login
from tests.integration.admin_ui.web import WebDaemon
from tests.integration.daemon import sim


def plc(iid: str, write_fault: str | None = None) -> dict[str, Any]:
    entry = sim(iid, rate_hz=2)
    if write_fault:
        entry["config"]["write_fault"] = write_fault
    return entry


ROUTES = [{"id": "voltage_to_setpoint", "from": "bms_1.voltage", "to": "routed.MAIN.setpoint",
           "transform": "scale(0.4)"}]


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    w = WebDaemon(tmp_path_factory.mktemp("writes-browser"),
                  [plc("plc_1"), plc("broken", "device_error"), plc("routed"),
                   sim("bms_1", "bms", rate_hz=2)], ROUTES).start()
    yield w
    w.close()


@pytest.fixture(scope="module")
def page(browser: Any, ui: WebDaemon):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = login(ctx, ui.base, timeout_ms=15_000)
    pg.wait_for_selector('.card[data-id="plc_1"]')
    yield pg
    ctx.close()


def open_level(page: Any, ui: WebDaemon, prefix: str, address: str) -> Any:
    page.goto(f"{ui.base}/#/datapoints?prefix={prefix}")
    row = page.locator(f'tr[data-address="{address}"]')
    row.wait_for()
    return row


def write(row: Any, value: str) -> Any:
    row.locator("input").fill(value)
    row.locator('button[type="submit"]').click()
    return row.locator(".write-status")


def test_a_refused_write_shows_failed_with_the_reason(page: Any, ui: WebDaemon,
                                                      shots: Path) -> None:
    row = open_level(page, ui, "broken.MAIN.", "broken.MAIN.setpoint")
    status = write(row, "20")
    page.wait_for_function("(el) => el.classList.contains('failed')",
                           arg=status.element_handle())
    assert status.inner_text() == ("failed: refused: broken.MAIN.setpoint: the device "
                                   "refused the write (simulated)")
    page.screenshot(path=shots / "datapoint-write-refused.png", full_page=True)
    status = write(row, "abc")
    page.wait_for_function("(el) => el.textContent.includes('bad value')",
                           arg=status.element_handle())
    assert "failed: refused: broken.MAIN.setpoint: bad value 'abc'" in status.inner_text()


def test_a_confirmed_write_shows_confirmed(page: Any, ui: WebDaemon) -> None:
    row = open_level(page, ui, "plc_1.MAIN.", "plc_1.MAIN.setpoint")
    status = write(row, "22.5")
    page.wait_for_function("(el) => el.classList.contains('ok')", arg=status.element_handle())
    assert status.inner_text() == "confirmed"
    page.wait_for_function("(el) => el.textContent === '22.5'",  # the live value follows
                           arg=row.locator('[data-field="value"]').element_handle())
    assert row.locator(".routed-by").count() == 0 and row.locator(".write-warning").count() == 0


def test_a_routed_datapoint_warns_that_the_route_overwrites_it(page: Any,
                                                               ui: WebDaemon) -> None:
    row = open_level(page, ui, "routed.MAIN.", "routed.MAIN.setpoint")
    assert row.locator(".routed-by").inner_text() == "← voltage_to_setpoint"
    assert "route voltage_to_setpoint writes this datapoint" in \
        row.locator(".write-warning").inner_text()
    status = write(row, "1")
    page.wait_for_function("(el) => el.classList.contains('ok')", arg=status.element_handle())
    assert status.inner_text() == "confirmed (route voltage_to_setpoint will overwrite it)"


def test_the_routes_page_counts_refused_writes(page: Any, ui: WebDaemon) -> None:
    ui.d.write_routes([*ROUTES, {"id": "to_read_only", "from": "bms_1.voltage",
                                 "to": "plc_1.MAIN.fTemp"}])
    assert ui.d.ctl("reload").returncode == 0
    ui.d.wait_for(lambda: ui.d.call("routes")["counters"]["to_read_only"]["refused"] > 0, 10,
                  "a refusal counted")
    page.goto(f"{ui.base}/#/routes")
    cell = page.locator('tr[data-route="to_read_only"] [data-field="refused"]')
    cell.wait_for()
    assert int(cell.inner_text()) > 0
    assert cell.get_attribute("title") == "plc_1.MAIN.fTemp is read-only"


def test_a_level_lists_datapoints_that_appear_after_it_loaded(page: Any,
                                                              ui: WebDaemon) -> None:
    """Opened before its connection exists (or before a device's first poll), an
    instance's level lists the datapoints as they arrive, without a reload."""
    page.goto(f"{ui.base}/#/datapoints?prefix=late.MAIN.")
    page.wait_for_function("() => document.querySelector('#dp-note').textContent"
                           ".includes('0 datapoints under late.MAIN.')")
    res = ui.admin().post("/api/connections", plc("late"))
    assert res.status == 201, res.text
    row = page.locator('tr[data-address="late.MAIN.setpoint"]')
    row.wait_for(timeout=30_000)
