"""The page asks for the 1 Hz stats only while it shows them (issue 16): on a page
without them (Logs) its live socket says ``stats off``, back on Instances ``on`` and the
live numbers come again; the same page in a hidden tab says ``off`` too."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.admin_ui.web import WebDaemon
from tests.integration.daemon import sim


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    w = WebDaemon(tmp_path_factory.mktemp("stats"), [sim("plc_001", rate_hz=2)]).start()
    yield w
    w.close()


def test_stats_follow_the_page_and_the_tab(browser: Any, ui: WebDaemon) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    sent: list[dict[str, Any]] = []
    stats: list[int] = []

    def on_socket(ws: Any) -> None:
        ws.on("framesent", lambda payload: sent.append(json.loads(payload)))
        ws.on("framereceived", lambda payload: '"type":"stats"' in str(payload)
              and stats.append(1))

    try:
        pg = ctx.new_page()
        pg.on("websocket", on_socket)
        pg.set_default_timeout(20_000)
        pg.goto(ui.base + "/")
        pg.fill("#password", WebDaemon.PASSWORD)
        pg.click("#login-button")
        pg.wait_for_selector('.card[data-id="plc_001"]')
        pg.goto(ui.base + "/#/logs?instance=plc_001")
        pg.wait_for_timeout(1500)  # (the page debounces its wish by 0.3 s)
        assert {"op": "stats", "on": False} in sent, sent
        before = len(stats)
        pg.wait_for_timeout(3000)
        assert len(stats) - before <= 1, "stats kept coming on a page without them"
        pg.goto(ui.base + "/#/instances")
        pg.wait_for_timeout(3000)
        assert sent[-1] == {"op": "stats", "on": True}, sent
        assert len(stats) > before
        pg.evaluate("""() => {
            Object.defineProperty(document, "hidden", {value: true, configurable: true});
            document.dispatchEvent(new Event("visibilitychange"));
        }""")
        pg.wait_for_timeout(1500)
        assert sent[-1] == {"op": "stats", "on": False}, sent
    finally:
        ctx.close()
