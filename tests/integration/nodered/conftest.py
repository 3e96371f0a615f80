"""Fixtures: Node-RED installed once (cached outside the repo), the palette packed from
the repo's ``nodered/``, one Node-RED process per test module, stopped by pid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.nodered.nodered import (
    NodeRed,
    install_node_red,
    pack_palette,
    require_tools,
)


@pytest.fixture(scope="session")
def node_red_home() -> Path:
    require_tools()
    return install_node_red()


@pytest.fixture(scope="session")
def palette_tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tools()
    return pack_palette(tmp_path_factory.mktemp("palette"))


@pytest.fixture(scope="module")
def node_red(node_red_home: Path, palette_tarball: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeRed]:
    red = NodeRed(node_red_home, palette_tarball, tmp_path_factory.mktemp("nodered-user"))
    red.install_palette()
    try:
        red.start()
        yield red
    finally:
        red.stop()
