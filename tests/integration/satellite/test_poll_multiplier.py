"""The LOW_POWER poll multiplier as a setting (``edgeos.json`` ``low_power.poll_multiplier``):
a real daemon's modbus worker polls a real pymodbus server at three times its interval
when the file says 3, and a value out of bounds stops the daemon at start with the
file and the field named."""

from __future__ import annotations

import time

import pytest

from tests.integration.satellite.test_low_power_effects import (
    POLL_S,
    device,  # noqa: F401  (the pymodbus server fixture)
    modbus,
    satellite_args,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_configured_multiplier_is_what_the_worker_does(daemon_factory, device) -> None:  # noqa: F811
    d = daemon_factory([modbus(device.port)], settings={"low_power": {"poll_multiplier": 3}},
                       extra_args=satellite_args("sat1", "--low-power"))
    d.start()
    d.wait_for(lambda: d.call("get", address="m1.a")["quality"] == "good", what="a read")
    assert d.call("get", address="m1.a")["meta"]["poll_interval_s"] == pytest.approx(3 * POLL_S)
    assert d.call("get", address="m1.b")["meta"]["poll_interval_s"] == pytest.approx(3 * 0.3)
    d.wait_for(lambda: d.instance("m1").get("bus", {}).get("poll_multiplier") == 3.0,
               what="the poll multiplier in the worker's stats")
    device.requests.clear()
    t0 = time.monotonic()
    time.sleep(3)
    span = time.monotonic() - t0
    reads = sum(1 for r in list(device.requests) if r[1] == 3 and r[2] == 0)
    # a loaded machine polls less, never more; at x2 it would be about 15 in 3 s
    assert 0 < reads <= span / (3 * POLL_S) + 2, f"{reads} reads in {span:.1f} s"
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
