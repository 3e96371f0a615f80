"""The Satellites page and the Instances page's host groups in a real browser, with a
real core (admin UI) and a real satellite on a CURVE link: the satellite shows up
pending, an admin trusts it under an id, its link figures and its instances appear
(grouped under the satellite, after the core's), a viewer sees no actions and is
refused by the API, and a confirmed revoke cuts the link. Screenshots at 390 px."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import login as open_logged_in
from tests.integration.admin_ui.web import Web, WebDaemon
from tests.integration.daemon import Daemon, sim
from tests.integration.satellite.support import counter

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("satellites-browser")
    listen = f"127.0.16.{random.randint(2, 250)}:{random.randint(47000, 47899)}"
    core = WebDaemon(root / "core", [sim("plc_1", rate_hz=2)])
    core.d.args[core.d.args.index("--satellite-listen") + 1] = listen
    sat = Daemon(root / "sat", [counter(rate_hz=20)], extra_args=[
        "--satellite", "--satellite-id", "sat1", "--core-host", listen, "--mdns", "off"])
    try:
        core.start()
        key = core.d.ctl_json("node-key")["key"]
        sat.args.append(f"--core-key={key}")
        sat.start()
        yield core, sat
    finally:
        sat.cleanup()
        core.close()


def login(browser: Any, ui: WebDaemon, user: str, password: str) -> tuple[Any, list[str]]:
    errors: list[str] = []
    pg = open_logged_in(browser.new_context(viewport=PHONE), ui.base, "/login", password=password,
               user=user, errors=errors)
    pg.wait_for_selector("#nav")
    return pg, errors


def test_trust_a_pending_key_and_see_its_instances(browser: Any, pair: Any,
                                                   shots: Path) -> None:
    core, sat = pair
    sat_key = sat.ctl_json("node-key")["key"]
    pg, errors = login(browser, core, "admin", WebDaemon.PASSWORD)
    pg.goto(core.base + "/#/satellites")
    pending = pg.locator(f'#satellites tr[data-state="pending"][data-key="{sat_key}"]')
    pending.wait_for()
    pending.locator('button[data-action="trust"]').click()
    assert pg.locator("#trust-id").input_value() == "sat1"  # the id it claimed
    pg.fill("#trust-id", "garage")
    pg.click('#dialog button[data-value="true"]')
    row = pg.locator('#satellites tr[data-id="garage"][data-state="connected"]')
    row.wait_for()
    assert core.d.ctl_json("satellites")[0]["key"] == sat_key
    pg.wait_for_function("""() => Number(document.querySelector(
        '#satellites tr[data-id="garage"] td:nth-child(7)').textContent) > 0""")
    pg.screenshot(path=shots / "satellites-390.png", full_page=True)

    pg.goto(core.base + "/#/instances")
    pg.wait_for_selector('section[data-host="garage"] .card[data-id="garage.c1"]')
    hosts = pg.eval_on_selector_all("#instance-cards > section.host-group",
                                    "els => els.map(e => e.dataset.host)")
    assert hosts == ["core", "garage"]
    assert pg.locator('section[data-host="core"] .card[data-id="plc_1"]').count() == 1
    pg.wait_for_selector('.card[data-id="garage.c1"] .status-running')
    pg.screenshot(path=shots / "instances-satellite-390.png", full_page=True)
    assert not errors, errors


def test_viewer_sees_no_actions_and_revoke_asks_first(browser: Any, pair: Any) -> None:
    core, sat = pair
    if not any(r["id"] == "garage" for r in core.d.ctl_json("satellites")):  # alone
        assert core.d.ctl("satellites", "trust", "--id", "garage", "--",
                          sat.ctl_json("node-key")["key"]).returncode == 0
    core.d.wait_for(lambda: core.d.ctl_json("satellites")[0]["state"] == "connected", 20,
                    "garage connected")
    admin = core.admin()
    admin.ok("POST", "/api/users", {"username": "vera", "password": "vera password",
                                   "role": "viewer"}, status=201)
    viewer, viewer_errors = login(browser, core, "vera", "vera password")
    viewer.goto(core.base + "/#/satellites")
    viewer.locator('#satellites tr[data-id="garage"]').wait_for()
    assert not viewer.locator('#satellites button[data-action="revoke"]').is_visible()
    web = Web(core.base)
    assert web.login("vera password", "vera").status == 200
    assert web.post("/api/satellites/revoke", {"id": "garage"}).status == 403

    pg, errors = login(browser, core, "admin", WebDaemon.PASSWORD)
    pg.goto(core.base + "/#/satellites")
    revoke = pg.locator('#satellites tr[data-id="garage"] button[data-action="revoke"]')
    revoke.click()
    pg.click('#dialog button[data-value="false"]')  # cancelled: nothing happens
    assert core.d.ctl_json("satellites")[0]["state"] == "connected"
    revoke.click()
    pg.click('#dialog button[data-value="true"]')
    pg.locator('#satellites tr[data-id="garage"][data-state="revoked"]').wait_for()
    sat.wait_for(lambda: sat.ctl_json("satellites")[0]["state"] == "refused", 10,
                 "satellite refused after revoke")
    assert not errors and not viewer_errors, errors + viewer_errors
