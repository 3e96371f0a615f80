"""The simulator's profiles: each instance's model state is its own (it starts from class
attributes), the setpoint is writable and moves the model."""

from __future__ import annotations

import pytest
from edgeos.workers.simulator.profiles import (
    BmsProfile,
    InverterProfile,
    MeterProfile,
    PlcProfile,
    Profile,
)


def values(profile: Profile, dt: float = 1.0) -> dict[str, object]:
    return {path: value for path, value, _unit in profile.tick(dt)}


@pytest.mark.parametrize("cls", [PlcProfile, BmsProfile, InverterProfile, MeterProfile])
def test_two_instances_keep_their_own_state(cls: type[Profile]) -> None:
    busy, idle = cls(1), cls(2)
    for _ in range(200):
        values(busy, 30.0)
    first = values(cls(1), 30.0)
    assert values(idle, 30.0).keys() == first.keys()
    assert values(busy, 30.0) != first  # the busy one's model has moved on
    assert vars(idle).keys() <= vars(busy).keys()


def test_counters_only_grow_and_start_where_the_model_says() -> None:
    meter = MeterProfile(3)
    start = values(meter)
    later = values(meter, 3600.0)
    assert 4567.0 < float(start["energy"]) < float(later["energy"])  # type: ignore[arg-type]
    assert MeterProfile.energy_kwh == 4567.0  # the class's starting value is untouched


def test_setpoint_drives_the_plc_temperature() -> None:
    plc = PlcProfile(4)
    assert plc.write("MAIN.setpoint", 40) == 40.0
    for _ in range(100):
        out = values(plc, 10.0)
    assert float(out["MAIN.fTemp"]) > 35  # type: ignore[arg-type]
    assert PlcProfile(5).temp == 20.0
    with pytest.raises(KeyError):
        plc.write("MAIN.fTemp", 1)
