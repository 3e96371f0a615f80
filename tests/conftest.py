"""Shared fixtures: the shared testdata folder beside the repo."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_TESTDATA = REPO.parent / "shared" / "testdata"


@pytest.fixture(scope="session")
def testdata() -> Path:
    """``../shared/testdata`` next to the repo root."""
    if not SHARED_TESTDATA.is_dir():
        pytest.fail(f"shared testdata not found at {SHARED_TESTDATA}")
    return SHARED_TESTDATA
