"""Fixtures: a real mosquitto per test (or module), watchers closed afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.mqtt.mosquitto import Mosquitto, Watcher


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


@pytest.fixture
def watch() -> Iterator[Any]:
    """``watch(port, topics, **kw)`` -> a :class:`Watcher`, closed after the test."""
    made: list[Watcher] = []

    def make(port: int, topics: list[str], **kwargs: Any) -> Watcher:
        w = Watcher(port, topics, **kwargs)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()
