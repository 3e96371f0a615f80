"""Issue 19 item 9 in a real browser: the add-connection form is generated from the
type's JSON Schema and follows the choices (Modbus TCP shows host/port, RTU the serial
settings, only the chosen transport's keys are saved), Modbus registers are edited in
a table, the API's validation errors appear next to their fields, there is no default
type, and the same form edits a connection without revealing its secret."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import login
from tests.integration.admin_ui.web import WebDaemon
from tests.integration.modbus.peers import ServerThread

HOST = "127.0.22.1"  # this file's addresses and ports (the helpers' shared plan)
UI_PORT = 45120
MODBUS_HOST, MODBUS_PORT = "127.0.22.2", 45121
MQTT_NOWHERE = ("127.0.22.3", 45122)  # nothing listens: the worker just retries


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDaemon]:
    w = WebDaemon(tmp_path_factory.mktemp("connform"), [], host=HOST, port=UI_PORT).start()
    yield w
    w.close()


@pytest.fixture(scope="module")
def plc() -> Iterator[ServerThread]:
    srv = ServerThread([1], host=MODBUS_HOST, port=MODBUS_PORT).start()
    srv.set("holding", 0, [215, 42])
    yield srv
    srv.close()


def logged_in(browser: Any, ui: WebDaemon, width: int = 1280) -> Any:
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    pg = login(ctx, ui.base)
    pg.wait_for_selector("#nav")
    pg.click('#nav a[data-page="connections"]')
    pg.wait_for_selector("#add-connection")
    return pg


@pytest.fixture()
def page(browser: Any, ui: WebDaemon) -> Iterator[Any]:
    pg = logged_in(browser, ui)
    yield pg
    pg.context.close()


def cell(page: Any, row: int, col: str) -> Any:
    return page.locator(f'#cfg-registers tr[data-row="{row}"] [data-col="{col}"]')


def error_at(page: Any, path: str) -> str:
    return page.locator(f'#conn-form .field-error[data-path="{path}"]').inner_text()


def stored(ui: WebDaemon, cid: str) -> dict[str, Any]:
    return next(e for e in ui.d.call("connections")["connections"] if e["id"] == cid)


def add_register(page: Any, row: int, **values: Any) -> None:
    page.click("#cfg-registers-add")
    for col, value in values.items():
        if isinstance(value, bool):
            cell(page, row, col).set_checked(value)
        elif col in ("function", "type"):
            cell(page, row, col).select_option(label=value)
        else:
            cell(page, row, col).fill(str(value))


def test_modbus_tcp_with_two_registers_reads_the_device(page: Any, ui: WebDaemon,
                                                        plc: ServerThread, shots: Path) -> None:
    page.click("#add-connection")
    assert page.input_value("#conn-type") == ""  # no default type: the user picks
    page.select_option("#conn-type", "modbus")
    assert page.input_value("#cfg-transport") == '"tcp"'
    assert page.is_visible("#cfg-host") and page.is_visible("#cfg-port")
    assert page.is_hidden("#cfg-serial_port") and page.is_hidden("#cfg-baudrate")
    page.select_option("#cfg-transport", label="rtu")
    assert page.is_visible("#cfg-serial_port") and page.is_visible("#cfg-parity")
    assert page.is_hidden("#cfg-host") and page.is_hidden("#cfg-port")
    page.fill("#cfg-serial_port", "/dev/ttyUSB9")  # typed, then the choice changes again
    page.select_option("#cfg-transport", label="tcp")
    page.fill("#conn-id", "boiler")
    page.fill("#cfg-host", MODBUS_HOST)
    page.fill("#cfg-port", str(MODBUS_PORT))
    page.fill("#cfg-poll_interval_s", "0.2")
    add_register(page, 0, name="level", address=1, writable=True)
    add_register(page, 1, name="temp", address=0, scale=0.1, unit="°C")
    add_register(page, 2, name="spare", address=9)
    page.locator('#cfg-registers tr[data-row="1"] button[title="move up"]').click()
    page.locator('#cfg-registers tr[data-row="2"] [data-action="remove-row"]').click()
    assert cell(page, 0, "name").input_value() == "temp"
    assert cell(page, 1, "name").input_value() == "level"
    page.screenshot(path=shots / "connection-form-modbus.png", full_page=True)
    page.click('#dialog button[data-value="true"]')
    page.locator('.card[data-id="boiler"]').wait_for()
    ui.d.wait_state("boiler", "running")

    config = stored(ui, "boiler")["config"]
    assert config == {"transport": "tcp", "host": MODBUS_HOST, "port": MODBUS_PORT,
                      "poll_interval_s": 0.2,
                      "registers": [{"name": "temp", "address": 0, "scale": 0.1, "unit": "°C"},
                                    {"name": "level", "address": 1, "writable": True}]}
    summary = page.locator('.card[data-id="boiler"] .cfg-summary')
    assert "registers: 2 items" in summary.inner_text()

    page.goto(f"{ui.base}/#/datapoints?prefix=boiler.")
    temp = page.locator('tr[data-address="boiler.temp"]')
    page.wait_for_function("(el) => el.textContent.includes('21.5')",
                           arg=temp.element_handle())
    level = page.locator('tr[data-address="boiler.level"]')
    page.wait_for_function("(el) => el.textContent.includes('42')", arg=level.element_handle())
    page.screenshot(path=shots / "connection-form-modbus-values.png", full_page=True)


def test_the_api_errors_appear_next_to_their_fields(page: Any, ui: WebDaemon) -> None:
    page.click("#add-connection")
    page.click('#dialog button[data-value="true"]')
    assert error_at(page, "type") == "choose the type of device"
    page.select_option("#conn-type", "modbus")
    page.fill("#conn-id", "broken_plc")
    add_register(page, 0, name="x", address=-1)
    add_register(page, 1, name="word", address=2, type="string")
    page.click('#dialog button[data-value="true"]')
    page.locator('#conn-form .field-error[data-path="config.host"]:not(:empty)').wait_for()
    assert error_at(page, "type") == ""
    assert error_at(page, "config.host") == "required"
    assert "minimum of 0" in error_at(page, "config.registers[0].address")
    assert error_at(page, "config.registers[1].count") == "required"
    assert page.locator("#cfg-host.has-error").count() == 1
    assert page.inner_text("#conn-problems") == ""  # every error found its field
    page.click('#dialog button[data-value="false"]')
    assert all(e["id"] != "broken_plc" for e in ui.d.call("connections")["connections"])


def test_the_same_form_edits_and_a_kept_placeholder_keeps_the_secret(
        page: Any, ui: WebDaemon) -> None:
    host, port = MQTT_NOWHERE
    doc = ui.d.call("connections")
    doc["connections"].append({"id": "mq", "type": "mqtt", "config": {
        "host": host, "port": port, "username": "edge", "password": "s3cret-pw"}})
    ui.d.call("connections", doc=doc)
    page.reload()
    mq = page.locator('.card[data-id="mq"]')
    mq.locator('[data-action="edit"]').click()
    assert page.input_value("#cfg-password") == "********"
    assert page.is_disabled("#conn-type") and page.is_disabled("#conn-id")
    page.fill("#cfg-username", "edge2")
    page.click('#dialog button[data-value="true"]')
    ui.d.wait_for(lambda: stored(ui, "mq")["config"].get("username") == "edge2",
                  what="the edited entry saved")
    assert stored(ui, "mq")["config"]["password"] == "s3cret-pw"


def test_switching_an_existing_connection_to_rtu_drops_the_tcp_keys(
        page: Any, ui: WebDaemon, tmp_path: Path) -> None:
    doc = ui.d.call("connections")
    doc["connections"].append({"id": "pump", "type": "modbus", "enabled": False, "config": {
        "host": MODBUS_HOST, "port": MODBUS_PORT, "unit_id": 3,
        "registers": [{"name": "rpm", "address": 4, "poll_interval_s": 5}]}})
    ui.d.call("connections", doc=doc)
    page.reload()
    page.locator('.card[data-id="pump"] [data-action="edit"]').click()
    assert page.input_value('#cfg-registers tr[data-row="0"] [data-col="name"]') == "rpm"
    page.select_option("#cfg-transport", label="rtu")
    page.fill("#cfg-serial_port", str(tmp_path / "ttyRS485"))
    page.select_option("#cfg-parity", label="E")
    page.click('#dialog button[data-value="true"]')
    ui.d.wait_for(lambda: stored(ui, "pump")["config"].get("transport") == "rtu",
                  what="the edited entry saved")
    assert stored(ui, "pump")["config"] == {
        "transport": "rtu", "serial_port": str(tmp_path / "ttyRS485"), "parity": "E",
        "unit_id": 3, "registers": [{"name": "rpm", "address": 4, "poll_interval_s": 5}]}


def test_the_form_and_the_cards_fit_a_phone(browser: Any, ui: WebDaemon, shots: Path) -> None:
    doc = ui.d.call("connections")
    doc["connections"].append({"id": "long_config", "type": "modbus", "enabled": False,
                               "config": {"host": "plc-in-the-boiler-room." + "x" * 60,
                                          "registers": [{"name": f"r{n}", "address": n}
                                                        for n in range(40)]}})
    ui.d.call("connections", doc=doc)
    pg = logged_in(browser, ui, width=390)
    try:
        pg.locator('.card[data-id="long_config"]').wait_for()
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        assert pg.evaluate("""() => [...document.querySelectorAll('.cfg-summary')]
                              .every((el) => el.scrollWidth <= el.clientWidth)""")
        pg.screenshot(path=shots / "connections-390.png", full_page=True)
        pg.click("#add-connection")
        pg.select_option("#conn-type", "modbus")
        pg.fill("#conn-id", "phone_plc")
        add_register(pg, 0, name="temp", address=0)
        pg.click('#dialog button[data-value="true"]')
        pg.locator('#conn-form .field-error[data-path="config.host"]:not(:empty)').wait_for()
        assert pg.evaluate("""() => { const d = document.getElementById('dialog');
                                      return d.scrollWidth <= d.clientWidth + 1; }""")
        pg.screenshot(path=shots / "connection-form-390.png", full_page=True)
    finally:
        pg.context.close()
