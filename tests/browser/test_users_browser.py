"""Users, the operator role and history charts in a real browser: an admin adds an
operator on the Users page; the operator sees no configuration, lifecycle or panic
controls, can write a datapoint, and changes their own password in the header dialog
(a request that meets the ended session meanwhile waits for the new one); the Instances
and System pages chart recorded instance figures with axes (uPlot)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from edgeos.admin_ui.sessions import CSRF_HEADER, SESSION_COOKIE
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import login as open_logged_in
from tests.integration.admin_ui.web import Web, WebDaemon
from tests.integration.daemon import sim


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    w = WebDaemon(tmp_path_factory.mktemp("users-browser"), [sim("plc_1", rate_hz=2)]).start()
    yield w
    w.close()


def login(browser: Any, ui: WebDaemon, user: str, password: str) -> tuple[Any, list[str]]:
    errors: list[str] = []
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = open_logged_in(ctx, ui.base, "/login", 15_000, password=password, user=user, errors=errors)
    pg.wait_for_selector('.card[data-id="plc_1"]')
    return pg, errors


def test_admin_adds_an_operator_who_sees_only_what_they_may_do(
        browser: Any, ui: WebDaemon, shots: Path) -> None:
    admin, admin_errors = login(browser, ui, "admin", WebDaemon.PASSWORD)
    admin.click('#nav a[data-page="users"]')
    admin.fill("#new-user-name", "olga")
    admin.fill("#new-user-password", "olga password")
    admin.select_option("#new-user-role", "operator")
    admin.click('#add-user button[type="submit"]')
    admin.locator('#users tr[data-user="olga"]').wait_for()
    assert admin.locator('#users tr[data-user="olga"] select').input_value() == "operator"
    admin.screenshot(path=shots / "users.png", full_page=True)
    assert {u["name"]: u["role"] for u in ui.d.ctl_json("user", "list")}["olga"] == "operator"

    olga, errors = login(browser, ui, "olga", "olga password")
    for page in ("connections", "routes", "plugins", "users"):
        assert not olga.locator(f'#nav a[data-page="{page}"]').is_visible(), page
    assert olga.locator('#nav a[data-page="datapoints"]').is_visible()
    assert not olga.locator("#panic-button").is_visible()
    buttons = olga.locator('.card[data-id="plc_1"] button[data-action]')
    assert buttons.count() > 0 and not any(buttons.nth(i).is_visible()
                                           for i in range(buttons.count()))
    olga.click('#nav a[data-page="datapoints"]')
    olga.locator('.node[data-prefix="plc_1."]').click()
    olga.locator('.node[data-prefix="plc_1.MAIN."]').click()
    row = olga.locator('tr[data-address="plc_1.MAIN.setpoint"]')
    row.locator("input").fill("18.5")
    row.locator('button[type="submit"]').click()
    olga.wait_for_function(
        """() => document.querySelector(
             'tr[data-address="plc_1.MAIN.setpoint"] [data-field="value"]')
             .textContent === '18.5'""")
    olga.screenshot(path=shots / "operator-datapoints.png", full_page=True)

    olga.click("#password-button")
    olga.fill("#pw-current", "olga password")
    olga.fill("#pw-new", "olga new password")
    olga.fill("#pw-again", "olga new password")
    olga.click('#dialog button[data-value="true"]')
    # the answer, or why not (an error toast; the login page if the session was lost):
    # three password hashes on a loaded machine, so a longer wait than the default
    answer = olga.locator('.toast.ok:text-is("password changed"), .toast.error').first
    try:
        answer.wait_for(timeout=30_000)
    except PlaywrightTimeout:
        raise AssertionError(f"no answer to the password change; page {olga.url}, "
                             f"page errors {errors}") from None
    assert answer.text_content() == "password changed", answer.text_content()
    olga.click('#nav a[data-page="instances"]')  # the session goes on
    olga.wait_for_selector('.card[data-id="plc_1"]')
    assert Web(ui.base).login("olga password", "olga").status == 401
    assert Web(ui.base).login("olga new password", "olga").status == 200
    assert errors == [] and admin_errors == []


def test_a_request_meeting_the_old_session_waits_for_the_password_change(
        browser: Any, ui: WebDaemon) -> None:
    """A request the page sends while its password change is under way (a chart's
    reload) meets the ended session; it waits for the change's answer and goes again
    with the new cookie, where it used to send the page to /login with the change done.
    The page's change is held in the browser so that the request surely comes in
    between; the test sends it to the daemon itself with the page's cookie and token."""
    add = ui.d.ctl("user", "add", "pavel", "--role", "viewer", input="pavel password\n")
    assert add.returncode == 0, add.stderr
    pg, errors = login(browser, ui, "pavel", "pavel password")
    held: list[Any] = []
    pg.route("**/api/account/password", lambda route: held.append(route))
    pg.click("#password-button")
    pg.fill("#pw-current", "pavel password")
    pg.fill("#pw-new", "pavel new password")
    pg.fill("#pw-again", "pavel new password")
    pg.click('#dialog button[data-value="true"]')
    deadline = time.monotonic() + 20
    while not held and time.monotonic() < deadline:
        pg.wait_for_timeout(50)  # lets the route handler run
    assert held, "the page sent no password change"
    route = held[0]
    cookie = {c["name"]: c["value"] for c in pg.context.cookies()}[SESSION_COOKIE]
    changed = Web(ui.base).post("/api/account/password", raw=route.request.post_data_buffer,
                                headers={"Content-Type": "application/json",
                                         "Cookie": f"{SESSION_COOKIE}={cookie}",
                                         CSRF_HEADER: route.request.headers[CSRF_HEADER.lower()]})
    assert changed.status == 200, changed.text

    with pg.expect_response(lambda r: r.url.endswith("/api/session")) as met:
        pg.evaluate("""() => { window.probe = import("/static/js/api.js")
                                 .then((m) => m.api("GET", "/api/session"))
                                 .then((doc) => doc.user, String); }""")
    assert met.value.status == 401  # the old session
    route.fulfill(status=200, body=changed.body,
                  headers={"Content-Type": "application/json",
                           "Set-Cookie": changed.headers["Set-Cookie"]})
    pg.locator('.toast.ok:text-is("password changed")').wait_for()
    assert pg.evaluate("window.probe") == "pavel"
    assert urlparse(pg.url).path != "/login", pg.url
    assert errors == []


def test_instance_history_charts_with_axes(browser: Any, ui: WebDaemon, shots: Path) -> None:
    ui.d.wait_for(lambda: Web(ui.base, token=ui.token("viewer", "charts")
                              .token).get("/api/history/instances?id=plc_1&metric=cpu_percent")
                  .status == 200, what="instance history recorded")
    pg, errors = login(browser, ui, "admin", WebDaemon.PASSWORD)
    chart = pg.locator(".history-panel .uplot")
    chart.wait_for()
    assert pg.locator(".history-panel .u-axis").count() >= 2  # time and value axes
    pg.select_option(".history-panel .history-metric", "memory_mb")
    pg.wait_for_function("""() => [...document.querySelectorAll('.history-panel .u-legend th')]
                            .some((th) => th.textContent.includes('plc_1'))""")
    pg.screenshot(path=shots / "instances-history.png", full_page=True)
    pg.click('#nav a[data-page="system"]')
    pg.locator('[data-page="system"] .history-panel .uplot').wait_for()
    assert int(pg.locator('[data-page="system"] .history-chart').get_attribute(
        "data-series")) >= 3  # broker, historian, plc_1 (and the admin UI)
    pg.screenshot(path=shots / "system-history.png", full_page=True)
    assert errors == []
