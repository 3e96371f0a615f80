"""Issue 19's Show list at phone width (390 px, screenshots kept under
test-artifacts/): the panic reason, who and when survive a reload of the page (item 5)
and match `edgectl status`; a page whose admin UI goes away says so and comes back
(item 4)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import login
from tests.integration.admin_ui.web import WebDaemon
from tests.integration.daemon import sim

HOST, UI_PORT = "127.0.22.1", 45127
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDaemon]:
    w = WebDaemon(tmp_path_factory.mktemp("phone"), [sim("plc_001", rate_hz=1)],
                  host=HOST, port=UI_PORT).start()
    yield w
    w.close()


@pytest.fixture()
def phone(browser: Any, ui: WebDaemon) -> Iterator[Any]:
    ctx = browser.new_context(**PHONE)
    pg = login(ctx, ui.base, "/login")
    pg.wait_for_selector('.card[data-id="plc_001"] .status-running')
    yield pg
    ctx.close()


def test_the_panic_record_survives_a_reload_at_390_px(phone: Any, ui: WebDaemon,
                                                      shots: Path) -> None:
    ui.admin().ok("POST", "/api/admin/panic", {"why": "water in the basement"})
    try:
        banner = phone.locator("#panic-banner")
        banner.wait_for(state="visible")
        phone.reload()
        phone.wait_for_selector('.card[data-id="plc_001"]')
        banner.wait_for(state="visible")
        text = banner.inner_text()
        assert "water in the basement" in text and "by admin" in text and "since " in text
        assert phone.evaluate("document.documentElement.scrollWidth") <= 392
        phone.screenshot(path=shots / "phone-panic-after-reload.png", full_page=True)
        status = ui.d.ctl("status")
        assert status.returncode == 0, status.stderr
        assert "water in the basement" in status.stdout and "admin" in status.stdout
    finally:
        ui.admin().ok("POST", "/api/admin/recover")
    phone.locator("#panic-banner").wait_for(state="hidden")


def test_a_lost_admin_ui_is_shown_and_comes_back_at_390_px(phone: Any, ui: WebDaemon,
                                                           shots: Path) -> None:
    ui.d.call("stop", id="admin-ui")
    try:
        phone.locator("#conn-banner").wait_for(state="visible")
        assert "reconnecting" in phone.inner_text("#conn-banner")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 392
        phone.screenshot(path=shots / "phone-connection-lost.png", full_page=True)
    finally:
        ui.d.call("start", id="admin-ui")
    phone.locator("#conn-banner").wait_for(state="hidden", timeout=40_000)
