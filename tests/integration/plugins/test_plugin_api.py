"""The plugin manager through the admin UI's HTTP API: install from the index and from
an uploaded wheel, follow the job, read the README as sanitised HTML, uninstall."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.admin_ui.web import Web, WebDaemon
from tests.integration.daemon import sim
from tests.integration.plugins.wheels import build


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebDaemon, Path]]:
    index = tmp_path_factory.mktemp("index")
    build(index, "edgeos-plugin-counter", "1.0.0")
    w = WebDaemon(tmp_path_factory.mktemp("plugui"), [sim("plc_1")],
                  settings={"version": "1.0", "plugins": {"index": str(index)}}).start()
    yield w, tmp_path_factory.mktemp("files")
    w.close()


def follow(web: Web, started: dict[str, Any]) -> dict[str, Any]:
    view, lines = started, list(started["lines"])
    while view["state"] == "running":
        view = web.ok("GET", f"/api/plugins/jobs/{view['job']}?since={view['next']}&wait=20")
        lines += view["lines"]
    return {**view, "lines": lines}


def test_install_from_the_index_readme_and_uninstall(ui: tuple[WebDaemon, Path]) -> None:
    w, _ = ui
    web = w.admin()
    started = web.ok("POST", "/api/plugins/install",
                     {"package": "edgeos-plugin-counter"}, status=202)
    view = follow(web, started)
    assert view["state"] == "done", view
    assert any("Successfully installed" in line for line in view["lines"])
    assert view["result"]["types"] == ["counter"]
    listed = {p["name"]: p for p in web.ok("GET", "/api/plugins")}
    assert listed["counter"]["plugin"] == "edgeos-plugin-counter"
    assert listed["counter"]["author"] == "Test Team"
    html = web.ok("GET", "/api/plugins/counter/readme")["html"]
    assert "<table>" in html and "<th>key</th>" in html  # tables
    assert '<code class="language-python">' in html  # code blocks
    assert "<script" not in html and "&lt;script&gt;" in html  # raw HTML is shown as text
    res = web.post("/api/plugins/install", {"package": "edgeos-plugin-counter"})
    assert res.status == 202 and follow(web, res.json())["error"].endswith("use update")
    web.ok("POST", "/api/plugins/uninstall", {"name": "edgeos-plugin-counter"})
    assert "counter" not in {p["name"] for p in web.ok("GET", "/api/plugins")}


def test_install_an_uploaded_wheel(ui: tuple[WebDaemon, Path]) -> None:
    w, files = ui
    web = w.admin()
    wheel = build(files, "edgeos-plugin-upcount", "0.3.0", type_name="upcount")
    res = web.post("/api/plugins/upload", {"filename": "../../evil.whl", "data": ""})
    assert res.status == 400
    started = web.ok("POST", "/api/plugins/upload", {
        "filename": wheel.name, "data": base64.b64encode(wheel.read_bytes()).decode()},
        status=202)
    assert follow(web, started)["state"] == "done"
    listed = {p["name"]: p for p in web.ok("GET", "/api/plugins")}
    assert listed["upcount"]["version"] == "0.3.0"
    web.ok("POST", "/api/plugins/uninstall", {"name": "upcount"})
