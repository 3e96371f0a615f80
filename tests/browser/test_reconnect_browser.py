"""Issue 19 item 4 in a real browser: an open page says when the admin UI is gone,
reconnects, goes to the login page when its session went with the old process, and
restarting the admin UI from its own card asks first and never ends in an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import login
from tests.browser.test_admin_ui_browser import card
from tests.integration.admin_ui.web import WebDaemon
from tests.integration.daemon import sim


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    w = WebDaemon(tmp_path_factory.mktemp("reconnect"), [sim("plc_001", rate_hz=1)]).start()
    yield w
    w.close()


def _logged_in_page(browser: Any, ui: WebDaemon) -> Any:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = login(ctx, ui.base, "/login")
    pg.wait_for_selector('.card[data-id="plc_001"] .status-running')
    return pg


def test_a_lost_connection_is_shown_and_a_lost_session_goes_to_login(
        browser: Any, ui: WebDaemon, shots: Path) -> None:
    pg = _logged_in_page(browser, ui)
    assert pg.locator("#conn-banner").is_hidden()
    ui.d.call("stop", id="admin-ui")
    pg.locator("#conn-banner").wait_for(state="visible")
    assert "reconnecting" in pg.inner_text("#conn-banner")
    pg.screenshot(path=shots / "connection-lost.png")
    ui.d.call("start", id="admin-ui")
    # the new process has no sessions: the page goes to the login page by itself
    pg.wait_for_url("**/login", timeout=30_000)
    pg.context.close()


def test_restarting_the_admin_ui_from_its_card_asks_and_comes_back(
        browser: Any, ui: WebDaemon, shots: Path) -> None:
    pg = _logged_in_page(browser, ui)
    pid = ui.d.instance("admin-ui")["pid"]
    card(pg, "admin-ui").locator('[data-action="restart"]').click()
    dlg = pg.locator("#dialog")
    dlg.wait_for(state="visible")
    assert "Restart the admin UI?" in dlg.inner_text() and "log in again" in dlg.inner_text()
    pg.screenshot(path=shots / "restart-admin-ui-confirm.png")
    pg.click('#dialog button[data-value="true"]')
    pg.locator(".toast").filter(has_text="accepted").wait_for()
    assert "internal error" not in pg.inner_text("#toasts")
    pg.wait_for_url("**/login", timeout=30_000)
    new = ui.d.wait_for(lambda: (i := ui.d.instance("admin-ui"))["status"] == "running"
                        and i["pid"] != pid and i, what="admin UI restarted")
    assert new["pid"] != pid
    pg.context.close()
