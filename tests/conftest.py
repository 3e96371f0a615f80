"""Shared fixtures: the device frames (tests/data, a copy of ../shared/testdata)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.paths import TESTDATA

pytest_plugins = ["tests.scheduling"]  # how make test shares the tests out to its workers


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The device frames' folder (see :mod:`tests.paths`)."""
    if not TESTDATA.is_dir():
        pytest.fail(f"testdata not found at {TESTDATA}")
    return TESTDATA


@pytest.fixture(autouse=True)
def no_edgeos_environment_leaks() -> Iterator[None]:
    """Every daemon a test starts inherits the test process's environment: a test that
    leaves ``EDGEOS_*`` set (``EDGEOS_FORKSERVER=off``, ``EDGEOS_PROFILE=LOW_POWER``)
    changes the daemons of every later test in its xdist worker, which then fail far
    from the cause. (``monkeypatch.delenv(name, raising=False)`` of a variable that is
    not set records nothing, so what the code under test sets afterwards stays.)"""
    before = {k: v for k, v in os.environ.items() if k.startswith("EDGEOS_")}
    yield
    after = {k: v for k, v in os.environ.items() if k.startswith("EDGEOS_")}
    if after != before:
        for name in set(before) | set(after):  # put it back for the tests that follow
            if name in before:
                os.environ[name] = before[name]
            else:
                os.environ.pop(name, None)
        pytest.fail(f"the test changed the environment the daemons inherit: before "
                    f"{before}, after {after}")


@pytest.fixture
def unset_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Unset a variable for this test only. (``delenv(raising=False)`` of a variable
    that is not set records nothing, so what the code under test sets afterwards stays.)"""
    def unset(name: str) -> None:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return unset
