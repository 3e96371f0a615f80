"""A satellite's instances seen and controlled from the core, and routes across the
link (CONTRACT section 8): ``status`` lists ``<sat>.<id>`` with live figures,
``stop|start|kill <sat>.<id>`` act on the satellite, a route takes a satellite value to
a core device and another brings a core value back to the satellite's device."""

from __future__ import annotations

import pytest

from tests.integration.daemon import sim
from tests.integration.satellite.support import counter, make_pair

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]  # several daemons each


def _remote(pair, iid: str = "sat1.c1") -> dict | None:
    rows = [r for r in pair.core.status()["instances"] if r["id"] == iid]
    return rows[0] if rows else None


def test_satellite_instances_and_routes_from_the_core(daemon_factory) -> None:
    pair = make_pair(daemon_factory, [counter(rate_hz=20)])
    try:
        pair.trust()
        pair.core.wait_for(lambda: (_remote(pair) or {}).get("status") == "running", 15,
                           "sat1.c1 in the core's status")
        row = _remote(pair)
        assert row["host"] == "sat1" and row["type"] == "simulator" and row["pid"]
        assert pair.core.status("sat1.c1")["instances"][0]["id"] == "sat1.c1"
        assert pair.core.ctl("status", "sat1.nosuch").returncode == 1
        # lifecycle verbs act on the satellite
        assert pair.core.ctl("stop", "sat1.c1").returncode == 0
        assert pair.sat.instance("c1")["status"] == "stopped"
        assert pair.core.ctl("start", "sat1.c1").returncode == 0
        old = pair.sat.instance("c1")
        assert old["status"] == "running"
        assert pair.core.ctl("kill", "sat1.c1").returncode == 0
        pair.sat.wait_for(lambda: pair.sat.instance("c1")["pid"] not in (None, old["pid"]),
                          10, "c1 restarted after kill")
        # routes across the link, both ways, applied by a reload of the core
        pair.core.write_connections([sim("plc", "plc", 5)])
        pair.core.write_routes([
            {"id": "up", "from": "sat1.c1.seq", "to": "plc.MAIN.setpoint"},
            {"id": "down", "from": "plc.MAIN.nCycle", "to": "sat1.c1.setpoint"}])
        done = pair.core.ctl("reload")
        assert done.returncode == 0, done.stderr
        pair.core.wait_for(lambda: pair.core.ctl_json("get", "plc.MAIN.setpoint")["value"]
                           > 1, 15, "satellite value routed to a core device")
        pair.sat.wait_for(lambda: pair.sat.ctl_json("get", "c1.commands_seen")["value"] > 2,
                          15, "core value routed to the satellite device")
        echo = pair.core.ctl_json("get", "sat1.c1.commands_seen")
        assert echo["value"] > 0 and echo["ack"] is True
    finally:
        pair.relay.close()
