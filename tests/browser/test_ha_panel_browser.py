"""The System page's high-availability panel in a real browser, on a real primary and
its standby (issue 15: "the same in the UI"): the standby shows its role, epoch and
that its configuration is read-only; an admin promotes it with a confirmed click (a
planned switch-over: the primary hands over and demotes itself), and hands back from
the new active core with "Demote". The login works on the standby because the auth
store is mirrored from the primary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import login
from tests.integration.admin_ui.web import Web, WebDaemon, free_port
from tests.integration.daemon import Daemon
from tests.integration.ha.support import free_listen

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def ha(d: Daemon) -> dict[str, Any]:
    return d.ctl_json("ha")


@pytest.fixture(scope="module")
def cores(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("ha-panel")
    p_listen, s_listen = free_listen(), free_listen()
    primary = WebDaemon(root / "primary", [])
    primary.d.args[primary.d.args.index("--satellite-listen") + 1] = p_listen
    port = free_port()
    # the standby's UI; not WebDaemon.start(): a standby refuses a password change (the
    # auth store is the primary's, mirrored)
    standby = Daemon(root / "standby", [], headless=False, extra_args=[
        "--web-port", str(port), "--web-host", "127.0.0.1", "--satellite-listen", s_listen,
        "--standby-of", p_listen])
    try:
        primary.start()
        standby.args.append(f"--primary-key={primary.d.ctl_json('node-key')['key']}")
        standby.start()
        done = primary.d.ctl("ha", "trust", "--", standby.ctl_json("node-key")["key"])
        assert done.returncode == 0, done.stderr
        standby.wait_for(lambda: ha(standby)["state"] == "mirroring", 30, "mirroring")
        base = f"http://127.0.0.1:{port}"
        standby.wait_for(lambda: Web(base).login(WebDaemon.PASSWORD).status == 200, 30,
                         "the primary's password on the standby (mirrored auth store)")
        yield primary, standby, base
    finally:
        standby.cleanup()
        primary.close()


def test_promote_and_hand_back_from_the_system_page(browser: Any, cores: Any,
                                                    shots: Path) -> None:
    primary, standby, base = cores
    errors: list[str] = []
    pg = login(browser.new_context(viewport={"width": 1280, "height": 900}), base,
               errors=errors)
    pg.click('#nav a[data-page="system"]')
    panel = pg.locator("#ha-panel")
    panel.locator('[data-ha="role"]', has_text="Role: standby · epoch 1").wait_for()
    assert "edit it on" in panel.locator('[data-ha="read-only"]').inner_text()
    assert panel.locator('[data-ha="demote"]').count() == 0
    pg.screenshot(path=shots / "system-ha-standby.png", full_page=True)

    panel.locator('[data-ha="promote"]').click()
    pg.click('#dialog button[data-value="true"]')
    panel.locator('[data-ha="role"]', has_text="Role: active · epoch 2").wait_for(
        timeout=60_000)
    assert panel.locator('[data-ha="read-only"]').count() == 0
    primary.d.wait_for(lambda: ha(primary.d)["role"] == "standby", 30,
                       "the old primary demoted")
    standby.wait_for(lambda: ha(standby)["followers"], 30, "the old primary mirroring")

    panel.locator('[data-ha="demote"]').click()
    pg.click('#dialog button[data-value="true"]')
    panel.locator('[data-ha="role"]', has_text="Role: standby · epoch 3").wait_for(
        timeout=60_000)
    assert ha(primary.d)["role"] == "active"
    assert ha(primary.d)["epoch"] == 3
    assert not errors, errors
