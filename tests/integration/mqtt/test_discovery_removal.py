"""Entities of datapoints that disappear are removed from Home Assistant."""

from __future__ import annotations

import json

from tests.integration.daemon import sim
from tests.integration.support import wait_until


def test_removed_instance_clears_its_retained_configs(daemon_factory, mosquitto, watch) -> None:
    bridge = {"id": "bridge", "type": "mqtt_bridge",
              "config": {"host": "127.0.0.1", "port": mosquitto.port, "heartbeat_s": 2}}
    d = daemon_factory([sim("plc_1", "plc", rate_hz=5), sim("inv_1", "inverter", rate_hz=5),
                        bridge]).start()
    w = watch(mosquitto.port, ["homeassistant/#", "smarthome/#"])

    def inv_configs() -> set[str]:
        return {t for t, p in w.latest().items()
                if t.endswith("/config") and p and json.loads(p)["device"]["name"] == "inv_1"}

    announced = wait_until(lambda: len(inv_configs()) >= 4 and inv_configs(), 15,
                           "inv_1 announced")
    state = "smarthome/inv_1/power"
    assert w.latest()[state]
    # the bridge is down while inv_1 is removed: it learns of it from its ledger on restart
    assert d.ctl("stop", "bridge").returncode == 0
    d.write_connections([sim("plc_1", "plc", rate_hz=5), bridge])
    done = d.ctl("--json", "reload")
    assert done.returncode == 0, done.stderr
    assert "inv_1" in json.loads(done.stdout)["removed"]
    assert d.ctl("start", "bridge").returncode == 0

    wait_until(lambda: all(w.latest().get(t) == b"" for t in announced), 15,
               "empty retained payloads for inv_1's configs")
    wait_until(lambda: w.latest().get("smarthome/bridge/instances/inv_1/availability") == b"",
               10, "availability cleared")
    # plc_1 is untouched, and a new subscriber finds no trace of inv_1
    late = watch(mosquitto.port, ["homeassistant/#"])
    wait_until(lambda: len(late.latest()) > 3, 10, "retained configs")
    assert not [t for t in late.latest() if "/inv_1/" in t]
    assert [t for t in late.latest() if "/plc_1/" in t]
