"""Every page of the top bar is reachable at common desktop widths: the bar scrolls its
pages without a scrollbar, so a page pushed out of view (an admin's twelve at 1280 px
were cut after "Plu") could not be found. At each width every link an admin has lies
inside the window and the bar has nothing scrolled out."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import login
from tests.integration.admin_ui.web import WebDaemon

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    w = WebDaemon(tmp_path_factory.mktemp("nav"), []).start()
    yield w
    w.close()


@pytest.mark.parametrize("width", [1440, 1280, 1024])
def test_every_page_link_is_in_view(browser: Any, ui: WebDaemon, width: int) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": 800})
    pg = login(ctx, ui.base)
    pg.wait_for_selector("#nav a.active")
    links = pg.eval_on_selector_all("#nav a", """els => els.map(a => {
        const r = a.getBoundingClientRect();
        return {page: a.dataset.page, shown: a.offsetParent !== null,
                left: r.left, right: r.right};
    })""")
    assert len(links) == 12 and all(link["shown"] for link in links), links
    cut = [link["page"] for link in links if link["left"] < 0 or link["right"] > width]
    assert cut == [], f"at {width} px out of view: {cut}"
    assert pg.eval_on_selector("#nav", "n => n.scrollWidth <= n.clientWidth")
    ctx.close()
