"""The LOW_POWER poll multiplier as a setting (``edgeos.json`` ``low_power.poll_multiplier``):
a real daemon's modbus worker polls a real pymodbus server at three times its interval
when the file says 3, and a value out of bounds stops the daemon at start with the
file and the field named."""

from __future__ import annotations

import pytest

from tests.integration.satellite.test_low_power_effects import (
    assert_polls_at,
    device,  # noqa: F401  (the pymodbus server fixture)
    modbus,
    satellite_args,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_configured_multiplier_is_what_the_worker_does(daemon_factory, device) -> None:  # noqa: F811
    d = daemon_factory([modbus(device.port)], settings={"low_power": {"poll_multiplier": 3}},
                       extra_args=satellite_args("sat1", "--low-power"))
    d.start()
    assert_polls_at(d, device, 3)  # at x2 it would be about 15 reads in 3 s
    assert d.status()["profile_effects"]["poll_multiplier"] == 3.0
    assert "profile: LOW_POWER (polls x3," in d.ctl("status").stdout


def test_out_of_bounds_multiplier_stops_the_start(daemon_factory) -> None:
    d = daemon_factory([], settings={"low_power": {"poll_multiplier": 11}},
                       extra_args=satellite_args("sat1", "--low-power"))
    d.start(wait=False)
    assert d.proc.wait(30) == 2
    log = d.daemon_log()
    assert f"{d.config / 'edgeos.json'}: low_power.poll_multiplier must be a number from " \
           "1 to 10, got 11" in log, log
