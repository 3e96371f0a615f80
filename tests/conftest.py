"""Shared fixtures: the device frames (tests/data, a copy of ../shared/testdata)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.paths import TESTDATA


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The device frames' folder (see :mod:`tests.paths`)."""
    if not TESTDATA.is_dir():
        pytest.fail(f"testdata not found at {TESTDATA}")
    return TESTDATA
