"""Node-RED's stock MQTT nodes against the MQTT bridge's topics, with no palette: a real
mosquitto, a real daemon with a ``mqtt_bridge`` instance and a simulator, and a flow
that reads ``smarthome/<id>/<path>`` and writes ``.../set``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.daemon import Daemon, sim
from tests.integration.mqtt.mosquitto import MOSQUITTO, Mosquitto
from tests.integration.nodered.flows import (
    JsonLines,
    function,
    mqtt_broker,
    mqtt_in,
    mqtt_out,
    tab,
)
from tests.integration.nodered.nodered import NodeRed

BRIDGE_WORKER = Path(__file__).resolve().parents[3] / "workers" / "mqtt_bridge" / "worker.py"

pytestmark = [
    pytest.mark.skipif(not BRIDGE_WORKER.exists(),
                       reason="the mqtt_bridge worker (workers/mqtt_bridge) is not built yet"),
    pytest.mark.skipif(shutil.which(MOSQUITTO) is None,
                       reason="mosquitto is not installed (Debian package mosquitto)"),
]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    b = Mosquitto(tmp_path / "mosquitto").start()
    try:
        yield b
    finally:
        b.stop()


def test_stock_mqtt_nodes_read_and_write_through_the_bridge(
        node_red: NodeRed, broker: Mosquitto, daemon_factory, tmp_path: Path) -> None:
    bridge = {"id": "ha_bridge", "type": "mqtt_bridge",
              "config": {"host": "127.0.0.1", "port": broker.port, "payload": "json",
                         "discovery": False}}
    d: Daemon = daemon_factory([sim("sim_a", "bms", rate_hz=5),
                                sim("sim_b", "inverter", rate_hz=2), bridge]).start()
    assert d.call("get", address="sim_b.setpoint")["value"] != 55
    seen = JsonLines(tmp_path / "mqtt.jsonl", {"topic": "msg.topic", "payload": "msg.payload"})
    out = mqtt_out("broker1")
    write = function("msg.topic = 'smarthome/sim_b/setpoint/set';\nmsg.payload = '55';\n"
                     "return msg;", [out["id"]])
    node_red.deploy([tab(), mqtt_broker(broker.port),
                     mqtt_in("broker1", "smarthome/sim_a/cells/1", [seen.id, write["id"]]),
                     write, out, *seen.nodes])

    def seen_current() -> bool:
        now = d.call("get", address="sim_a.cells.1")
        return any(line["payload"] == {"value": now["value"], "ts": now["ts"],
                                       "quality": now["quality"]} for line in seen.lines())

    node_red.wait_for(seen_current, 20, "sim_a.cells.1 through mqtt in")
    assert {line["topic"] for line in seen.lines()} == {"smarthome/sim_a/cells/1"}

    def written() -> bool:
        now = d.call("get", address="sim_b.setpoint")
        return now["value"] == 55 and now["ack"] is True

    node_red.wait_for(written, 20, "sim_b.setpoint = 55 through mqtt out")
