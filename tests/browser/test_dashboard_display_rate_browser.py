"""The Dashboards page's display rate in a real browser against a real daemon: a value
tile on a datapoint that changes 20 times a second repaints at most once a second at
the "1 / s" setting and still ends on the newest value; at "live" it shows more of the
changes; the setting is kept in the browser. Values are published straight to the
broker as an instance would."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import zmq
from edgeos.ipc import addresses, protocol

from tests.integration.admin_ui.web import Web, WebDaemon
from tests.integration.daemon import sim

FEED = "feed"  # a disabled instance whose datapoint the test publishes itself
WINDOW_S = 5.0
# a tile painted at most once a second over the window, plus the value it showed when
# the window opened (the window as the page measured it: on a loaded host the test's
# sleep and round trips can stretch it past WINDOW_S)
CAPPED_MOST = int(WINDOW_S) + 1

COUNT_TEXT_CHANGES = """() => {
  const el = document.querySelector('.grid-stack-item[data-id="v"] [data-field="value"]');
  window.__changes = 0;
  window.__since = performance.now();
  window.__watch && window.__watch.disconnect();
  // one callback per task that changed the text: what the eye sees as one repaint (a
  // frame that shows a held value and then a newer one changes the text twice)
  window.__watch = new MutationObserver(() => { window.__changes += 1; });
  window.__watch.observe(el, {characterData: true, childList: true, subtree: true});
}"""


class Publisher:
    """``feed.n`` = 1, 2, 3, ... at ``rate_hz`` until stopped; ``last`` is the newest sent."""

    def __init__(self, run_dir: Any, rate_hz: float) -> None:
        self.run_dir, self.period = run_dir, 1.0 / rate_hz
        self.last = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        ctx = zmq.Context()
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.IDENTITY, FEED.encode())
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(addresses.endpoint(self.run_dir, addresses.BROKER))
        while not self.stop.wait(self.period):
            self.last += 1
            sock.send_multipart([protocol.DP, protocol.pack(
                [["n", self.last, protocol.now_ms(), "good", True, ""]])])
        sock.close()
        ctx.term()

    def __enter__(self) -> Publisher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDaemon]:
    w = WebDaemon(tmp_path_factory.mktemp("rate"),
                  [sim(FEED, enabled=False, limits={"max_pps": 1000})]).start()
    yield w
    w.close()


@pytest.fixture(scope="module")
def page(browser: Any, ui: WebDaemon) -> Iterator[Any]:
    admin: Web = ui.admin()
    admin.ok("PUT", "/api/dashboards/rate", {"title": "Rate", "widgets": {"v": {
        "type": "value", "title": "n", "layout": {"x": 0, "y": 0, "w": 3, "h": 1},
        "bindings": {"value": {"source": f"{FEED}.n"}}, "options": {"digits": 0}}}})
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(15_000)
    pg.goto(ui.base + "/login")
    pg.fill("#password", WebDaemon.PASSWORD)
    pg.click("#login-button")
    pg.wait_for_selector("#nav")
    yield pg
    ctx.close()
    assert errors == []


def open_board(page: Any, ui: WebDaemon) -> None:
    page.goto(ui.base + "/#/dashboards?d=rate")
    page.wait_for_selector('.grid-stack-item[data-id="v"]')


def changes_over_window(page: Any) -> tuple[int, float]:
    """Text changes of the tile over about WINDOW_S, and the window's length in s as
    the page measured it."""
    page.evaluate(COUNT_TEXT_CHANGES)
    time.sleep(WINDOW_S)
    count, ms = page.evaluate("() => [window.__changes, performance.now() - window.__since]")
    return int(count), ms / 1000


@pytest.mark.slow  # two 5 s windows and a daemon
def test_one_per_second_caps_repaints_and_ends_on_the_newest(page: Any, ui: WebDaemon) -> None:
    open_board(page, ui)
    page.select_option("#dash-rate", "1")
    with Publisher(ui.d.run, 20) as feed:
        page.wait_for_function("""() => /\\d/.test(document.querySelector(
            '.grid-stack-item[data-id="v"] [data-field="value"]').textContent)""")
        capped, capped_s = changes_over_window(page)
        # the page is at "1 / s" after a reload too: a setting of this browser
        open_board(page, ui)
        assert page.input_value("#dash-rate") == "1"
        page.select_option("#dash-rate", "0")
        page.wait_for_function("""() => /\\d/.test(document.querySelector(
            '.grid-stack-item[data-id="v"] [data-field="value"]').textContent)""")
        live, _ = changes_over_window(page)
        page.select_option("#dash-rate", "1")
    assert 1 <= capped <= int(capped_s) + 1, (capped, capped_s)
    assert live > CAPPED_MOST, (live, capped)
    # the last value is shown although it arrived within the tile's second
    page.wait_for_function("(n) => document.querySelector("
                           "'.grid-stack-item[data-id=\"v\"] [data-field=\"value\"]')"
                           ".textContent === String(n)", arg=feed.last, timeout=10_000)

