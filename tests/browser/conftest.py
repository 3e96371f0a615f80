"""Browser tests: Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("EDGEOS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def login(ctx: Any, base: str, path: str = "/", timeout_ms: int = 20_000,
          password: str | None = None, user: str | None = None,
          errors: list[str] | None = None) -> Any:
    """A new page of ``ctx`` on ``base + path``, logged in as ``user`` (default admin,
    with the test daemon's password unless another is given); page errors are collected
    into ``errors`` from the first load on."""
    from tests.integration.admin_ui.web import WebDaemon

    pg = ctx.new_page()
    if errors is not None:
        pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    pg.set_default_timeout(timeout_ms)
    pg.goto(base + path)
    if user is not None:
        pg.fill("#username", user)
    pg.fill("#password", password or WebDaemon.PASSWORD)
    pg.click("#login-button")
    return pg


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
