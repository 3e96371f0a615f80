"""Stand-in PLCs for the ads tests: real processes, ended by pid."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.ads.plc_server import PlcProcess


@pytest.fixture
def plc_factory() -> Iterator[Any]:
    made: list[PlcProcess] = []

    def make(host: str, **kwargs: Any) -> PlcProcess:
        plc = PlcProcess(host, **kwargs).start()
        made.append(plc)
        return plc

    yield make
    for plc in made:
        plc.stop()
