"""Failover (issue 15): kill -9 of the primary while a satellite streams a counter and
a route writes to a device on the satellite.

The record of the core that ends up active (its change feed: what it mirrored as a
standby, marked ``~``, then what it took itself) holds every sequence of the counter
exactly once, in order (docs/high-availability.md); and the satellite device executes
each routed command exactly once (a standby's routes are held back; the new active
core does not replay the old one's)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import zmq
from edgeos.ipc.rpc import RpcError

from tests.integration.daemon import sim
from tests.integration.ha.support import CoreRecord, make_cores
from tests.integration.ha.test_failover import TAKEOVER_S, commands_seen, kill_tree
from tests.integration.satellite.support import Recorder, assert_exactly_once, counter

pytestmark = pytest.mark.slow

SEQ = "sat1.c1.seq"
#: a simulator on both cores whose setpoint a route copies to the satellite's device
DRIVER = sim("drv", "counter", 1, mirror=True)
#: on a change only: the driver reports each written value twice (at once, next tick)
ROUTE = {"id": "to_sat", "from": "drv.setpoint", "to": "sat1.c1.setpoint",
         "condition": "value != old"}
FIRST = 1000  # the driver's first value: far from the device's initial setpoint


class Driver:
    """Writes 1001, 1002, ... to ``drv.setpoint`` on whichever core is active, a few per
    second, until stopped; remembers the values a core confirmed."""

    def __init__(self) -> None:
        self.core: Any = None
        self.confirmed: list[int] = []
        self.n = FIRST
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            core = self.core
            if core is None:
                continue
            self.n += 1
            try:
                if core.call("set", address="drv.setpoint", value=self.n)[
                        "outcome"] == "confirmed":
                    self.confirmed.append(self.n)
            except (RpcError, zmq.ZMQError, OSError):
                pass  # the core is gone: the next value goes to the new one

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(30)


@pytest.mark.timeout(360)  # three daemons, a failover and a few commands on a busy host
def test_kill_primary_loses_nothing_and_actuates_once(daemon_factory) -> None:
    cores = make_cores(daemon_factory, [DRIVER])
    p, s = cores.primary, cores.standby
    # both records from before the satellite's first value
    rec_p, rec_s = CoreRecord(p.run, "sat1."), CoreRecord(s.run, "sat1.")
    sat = cores.satellite(daemon_factory, [counter("c1", 200)])
    # a route may name the satellite once it is trusted; routing.json reaches the standby
    p.write_routes([ROUTE])
    assert p.ctl("reload").returncode == 0
    for core in (p, s):
        core.wait_for(lambda c=core: "to_sat" in c.ctl("route", "test", "drv.setpoint",
                                                        "1").stdout, 20, "route in force")
    device = Recorder(sat.run, "c1.")
    driver = Driver()
    try:
        p.wait_for(lambda: len(rec_p.seqs(SEQ)) > 200, 30, "data on the primary")
        driver.core = p
        driver.thread.start()
        p.wait_for(lambda: len(driver.confirmed) >= 3 and commands_seen(sat) >= 3, 60,
                   "routed commands reach the device")
        driver.core = None
        kill_tree(p.proc.pid)
        s.wait_for(lambda: cores.ha(s)["role"] == "active", TAKEOVER_S, "standby active")
        # commands to a satellite not yet on the new core wait up to 15 s: wait for it
        s.wait_for(lambda: s.ctl_json("satellites")[0]["state"] == "connected", 30,
                   "the satellite on the new core")
        driver.core = s
        after = len(driver.confirmed)
        s.wait_for(lambda: len(driver.confirmed) >= after + 3, 60, "routes on the new core")
        driver.stop()
        last = sat.ctl_json("satellites")[0]["last_seq"]
        s.wait_for(lambda: max(rec_s.seqs(SEQ) or [0]) >= last, 30, "the rest arrived")
        # the counter: the standby mirrored from the start (it was trusted before the
        # satellite was), so its record is the whole series, each value once
        assert_exactly_once(rec_s.seqs(SEQ))
        own = rec_p.seqs(SEQ, mirrored=False)
        assert own == list(range(1, len(own) + 1)), "gap or repeat on the old primary"
        # the device: each command executed once. Every command writes a new value, so
        # a command executed twice shows as more commands than values written
        def written() -> set[float]:
            return {i[1] for i in list(device.items)
                    if i[0] == "c1.setpoint" and i[1] > FIRST}
        s.wait_for(lambda: set(driver.confirmed[after:]) <= written(), 30,
                   "the commands after the takeover reached the device")
        seen = commands_seen(sat)
        assert seen == len(written()), f"{seen} commands for {len(written())} values"
        assert seen >= len(driver.confirmed) - 2  # at most the ones in flight at the kill
    finally:
        driver.stop()
        for rec in (rec_p, rec_s, device):
            rec.close()
