"""Each fault of :mod:`tests.chaos.faults` against a real daemon: afterwards the system
is back without a human within the fault's stated time (the wait's time-out), values
flow again, and no last value is lost beyond the last second before a power cut.

No historian process exists in this build yet; its kill -9 / SIGSTOP join FAULTS when
it does. Disk full and another local user are not in this list yet (docs/operations.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.faults import FAULTS, Fault


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault_is_survived(fault: Fault, tmp_path: Path) -> None:
    if fault.needs:
        pytest.skip(fault.needs)
    result = fault.run(tmp_path / "d", fault)
    assert result.survived and result.lost_values == 0, result
