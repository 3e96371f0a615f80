"""Fixtures of the BMS decoder tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from bms_unit_support import TESTDATA


@pytest.fixture(scope="session")
def bms_testdata() -> Path:
    return TESTDATA
