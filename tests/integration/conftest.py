"""Fixtures for integration tests: real daemons, cleaned up by pid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.daemon import Daemon


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[Any]:
    made: list[Daemon] = []

    def make(*args: Any, **kwargs: Any) -> Daemon:
        d = Daemon(tmp_path / f"d{len(made)}", *args, **kwargs)
        made.append(d)
        return d

    yield make
    for d in made:
        d.cleanup()
