"""The arbiter on the fake seam, for the tests that drive it (tests/unit/supervisor/
fake_parts.py); a module that needs another World (headless, a bound channel) asks
for its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.supervisor.fake_parts import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.close()
