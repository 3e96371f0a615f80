"""Each fault of :mod:`tests.chaos.faults` against a real daemon: afterwards the system
is back without a human within the fault's stated time (the wait's time-out), values
flow again, and no last value is lost beyond the last second before a power cut.

The faults that leave the daemon normal share one plant (tests/chaos/lab.py), in the
order of FAULTS; those that take longer than ~10 s (a hang must first be noticed, a
satellite pair, a tmpfs) are marked slow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.faults import FAULTS, Fault
from tests.chaos.lab import Lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with Lab(Path(tmp_path_factory.mktemp("chaos"))) as lab:
        yield lab


@pytest.mark.parametrize("fault", [
    pytest.param(f, id=f.name, marks=[pytest.mark.slow] if f.slow else [])
    for f in FAULTS])
def test_fault_is_survived(fault: Fault, lab: Lab) -> None:
    if fault.needs:
        pytest.skip(fault.needs)
    result = fault.run(lab, fault)
    assert result.survived and result.lost_values == 0, result
