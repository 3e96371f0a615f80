"""The Plugins page in a real browser: install a plugin from the index with pip's output
on the page, see an update offered and take it, disable (asked twice when the type has
instances), read the README rendered on the server, and a failed install showing pip's
last lines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.admin_ui.web import WebDaemon
from tests.integration.daemon import sim
from tests.integration.plugins.wheels import build

DIST = "edgeos-plugin-counter"
PIP_S = 120  # an install or index check runs pip: tens of seconds on a loaded machine


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDaemon]:
    index = tmp_path_factory.mktemp("index")
    build(index, DIST, "1.0.0")
    build(index, "edgeos-plugin-broken", "1.0.0", type_name="broken",
          requires=["edgeos-no-such-dependency>=1"])
    w = WebDaemon(tmp_path_factory.mktemp("plugpage"), [sim("plc_1")],
                  settings={"version": "1.0", "plugins": {"index": str(index)}}).start()
    w.index = index  # type: ignore[attr-defined]
    yield w
    w.close()


@pytest.fixture(scope="module")
def page(browser: Any, ui: WebDaemon) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(30_000)
    pg.goto(ui.base + "/")
    pg.fill("#password", WebDaemon.PASSWORD)
    pg.click("#login-button")
    pg.wait_for_selector("#nav")
    pg.click('#nav a[data-page="plugins"]')
    pg.locator('#plugin-cards .card[data-id="simulator"]').wait_for()
    yield pg
    assert not errors, errors
    ctx.close()


def test_install_update_readme_disable(page: Any, ui: WebDaemon, shots: Path) -> None:
    page.fill("#plugin-package", f"{DIST}==1.0.0")
    page.click('form:has(#plugin-package) button[type="submit"]')
    counter = page.locator('#plugin-cards .card[data-id="counter"]')
    counter.wait_for(timeout=PIP_S * 1000)  # pip: slow on a loaded machine
    assert "1.0.0" in counter.inner_text() and "installed" in counter.inner_text()

    build(ui.index, DIST, "1.1.0")  # type: ignore[attr-defined]
    page.click("#plugin-check")
    # the check runs pip once per plugin (slow on a loaded machine) and says what it found
    page.locator("#toasts .toast", has_text="1 update available").wait_for(timeout=PIP_S * 1000)
    assert page.inner_text("#plugin-check") == "Check for updates"
    counter.locator("button", has_text="Update to 1.1.0").click()
    page.locator('#plugin-cards .card[data-id="counter"] .sub', has_text="1.1.0").wait_for(
        timeout=PIP_S * 1000)

    counter = page.locator('#plugin-cards .card[data-id="counter"]')
    counter.locator("button", has_text="README").click()
    page.locator("#dialog .markdown table").wait_for()
    assert page.locator("#dialog .markdown pre code").count() == 1
    assert page.locator("#dialog .markdown script").count() == 0
    page.screenshot(path=shots / "plugins-readme.png", full_page=True)
    page.click('#dialog button[data-value="true"]')

    doc = ui.d.call("connections")
    doc["connections"].append({"id": "cnt", "type": "counter", "config": {}})
    ui.d.call("connections", doc=doc)
    ui.d.wait_state("cnt", "running")
    page.click("#plugin-check")  # reload the cards: the instance is listed
    counter.locator(".sub", has_text="instances: cnt").wait_for()
    counter.locator("button", has_text="Disable").click()
    page.click('#dialog button[data-value="true"]')  # "Disable counter?"
    page.locator("#dialog h2", has_text="counter has instances").wait_for()
    assert ("cnt will be stopped now. Their entries stay in connections.json; they start "
            "again when counter is enabled") in page.inner_text("#dialog")
    page.screenshot(path=shots / "plugins-disable-asks.png")
    assert ui.d.instance("cnt")["status"] == "running"  # nothing stopped before the 2nd yes
    page.click('#dialog button[data-value="true"]')  # "Stop them"
    counter.locator(".badge", has_text="disabled").wait_for()
    assert ui.d.instance("cnt")["status"] == "stopped"
    page.screenshot(path=shots / "plugins.png", full_page=True)


def test_a_failed_install_shows_pips_last_lines(page: Any) -> None:
    page.fill("#plugin-package", "edgeos-plugin-broken")
    page.click('form:has(#plugin-package) button[type="submit"]')
    progress = page.locator("#plugin-progress")
    page.wait_for_function("() => document.querySelector('#plugin-progress')"
                           ".textContent.includes('nothing changed')", timeout=PIP_S * 1000)
    assert "edgeos-no-such-dependency" in progress.inner_text()
    assert page.locator('#plugin-cards .card[data-id="broken"]').count() == 0
