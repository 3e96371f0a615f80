"""Issue 19 item 12: the errors count on an instance's card, its connection's card and
the Errors page agree: one store (the supervisor's error log), one window (24 h)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.admin_ui.web import WebDaemon
from tests.integration.daemon import sim

HOST, UI_PORT = "127.0.22.1", 45124
GIVE_UP = {"restart": {"base_s": 0.1, "flap_max": 2, "flap_window_s": 60}}


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDaemon]:
    w = WebDaemon(tmp_path_factory.mktemp("errcount"),
                  [sim("plc_1", rate_hz=1),
                   sim("crashy", "meter", rate_hz=1, fault={"kind": "crash", "after_s": 0.3})],
                  settings=GIVE_UP, host=HOST, port=UI_PORT).start()
    yield w
    w.close()


def test_card_and_errors_page_show_the_same_count(browser: Any, ui: WebDaemon,
                                                  shots: Path) -> None:
    ui.d.wait_state("crashy", "error")  # gave up: the count stops moving
    # (the last crash's ERROR can be read a moment after its exit gave the instance up)
    ui.d.wait_for(lambda: sum(e["count"] for e in ui.d.call("errors", id="crashy")) >= 3,
                  10, "the crashes and the give-up counted")
    recorded = sum(e["count"] for e in ui.d.call("errors", id="crashy"))
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        pg = ctx.new_page()
        pg.set_default_timeout(20_000)
        pg.goto(ui.base + "/")
        pg.fill("#password", WebDaemon.PASSWORD)
        pg.click("#login-button")
        figure = pg.locator('.card[data-id="crashy"] [data-field="errors_24h"]')
        pg.wait_for_function("([el, n]) => el.textContent === String(n)",
                             arg=[figure.element_handle(), recorded])
        assert pg.inner_text('.card[data-id="plc_1"] [data-field="errors_24h"]') == "0"
        figure.click()  # the figure links to the instance's errors
        pg.wait_for_selector("#error-total:has-text('in the last 24 h')")
        assert re.match(rf"{recorded} errors in the last 24 h of crashy",
                        pg.inner_text("#error-total"))
        pg.screenshot(path=shots / "errors-count.png", full_page=True)
        pg.click('#nav a[data-page="connections"]')
        traffic = pg.locator('.card[data-id="crashy"] [data-field="traffic"]')
        traffic.wait_for()
        assert traffic.inner_text().endswith(f"errors 24 h {recorded}")
    finally:
        ctx.close()
