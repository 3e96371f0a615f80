"""The MQTT bridge and the mqtt worker in a real daemon against a real mosquitto."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.daemon import Daemon, sim
from tests.integration.mqtt.ha_schema import match_topic, problems
from tests.integration.mqtt.mosquitto import Mosquitto, Watcher
from tests.integration.support import wait_until

HEARTBEAT_S = 2


@dataclass
class Env:
    d: Daemon
    broker: Mosquitto

    def watcher(self, topics: list[str]) -> Watcher:
        return Watcher(self.broker.port, topics)

    def bus(self, iid: str) -> dict[str, Any]:
        return self.d.instance(iid)["bus"]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root: Path = tmp_path_factory.mktemp("bridge")
    broker = Mosquitto(root / "mosquitto").start()
    mqtt = {"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 0.2,
            "reconnect_max_s": 1}
    connections = [
        sim("plc_1", "plc", rate_hz=5), sim("bms_1", "bms", rate_hz=2),
        sim("inv_1", "inverter", rate_hz=2),
        {"id": "mqtt_local", "type": "mqtt", "config": {
            **mqtt, "qos": 1,
            "subscribe": ["alarms/#", "smarthome/plc_1/MAIN/#",
                          {"topic": "sensors/+", "json": {"temp": "data.temperature",
                                                          "hum": "data.humidity"}},
                          {"topic": "lights/kitchen", "type": "bool", "writable": True}],
            "publish": [{"topic": "out/#", "qos": 1, "retain": True}]}},
        {"id": "bridge", "type": "mqtt_bridge", "config": {
            **mqtt, "heartbeat_s": HEARTBEAT_S, "discovery_jitter_s": 0.3}},
        {"id": "bridge_raw", "type": "mqtt_bridge", "config": {
            **mqtt, "prefix": "rawhome", "payload": "raw", "discovery": False,
            "protocol": "3.1.1"}},
    ]
    routes = [{"id": "setpoint_out", "from": "plc_1.MAIN.setpoint",
               "to": "mqtt_local.out/setpoint"}]
    d = Daemon(root / "daemon", connections, routes)
    try:
        d.start()
        d.wait_for(lambda: d.instance("bridge")["bus"].get("subscribed")
                   and d.instance("bridge_raw")["bus"].get("subscribed")
                   and d.instance("mqtt_local")["bus"].get("subscribed"), 20, "mqtt subscribed")
        yield Env(d, broker)
    finally:
        d.cleanup()
        broker.stop()


def state(w: Watcher, topic: str) -> dict[str, Any]:
    return json.loads(wait_until(lambda: w.latest().get(topic), 10, topic))


def test_bridge_mirrors_every_instance_retained(env: Env) -> None:
    # retained messages are what a newly subscribed client gets first
    w = env.watcher(["smarthome/#", "rawhome/#"])
    try:
        temp = "smarthome/plc_1/MAIN/fTemp"
        wait_until(lambda: w.on(temp), 10, temp)
        first, retained = w.on(temp)[0]
        assert retained, "states are published retained"
        doc = json.loads(first)
        assert set(doc) == {"value", "ts", "quality"}
        assert isinstance(doc["value"], float) and doc["quality"] == "good"
        assert doc["ts"] > 1_600_000_000_000
        for topic in ("smarthome/bms_1/cells/3", "smarthome/inv_1/energy_total",
                      "smarthome/plc_1/MAIN/fbBattery/fVoltage"):
            assert state(w, topic)["quality"] == "good"
        assert w.latest()["smarthome/bridge/availability"] == b"online"
        # per instance: from the workers' states, which the broker hears of debounced
        assert wait_until(lambda: w.latest().get(
            "smarthome/bridge/instances/plc_1/availability") == b"online", 10)
        # the value on MQTT is the broker's value
        setpoint = env.d.call("get", address="plc_1.MAIN.setpoint")["value"]
        assert state(w, "smarthome/plc_1/MAIN/setpoint")["value"] == setpoint
        # raw payloads carry the bare value
        alarm = wait_until(lambda: w.latest().get("rawhome/plc_1/MAIN/bAlarmActive"), 10)
        assert alarm in (b"true", b"false")
        float(wait_until(lambda: w.latest().get("rawhome/inv_1/power"), 10))
        # bridges mirror nobody's bridge, not even their own (they have no datapoints)
        assert not [t for t in w.latest() if t.split("/")[1] in ("bridge_raw",)]
        # mqtt_local reads the bridge's topics back: that is not mirrored again (no loop)
        env.d.wait_for(lambda: env.d.call("get", address="mqtt_local.smarthome/plc_1/MAIN/fTemp"),
                       10, "mqtt_local reads the bridge")
        time.sleep(0.5)
        assert not [t for t in w.latest() if t.startswith("smarthome/mqtt_local/smarthome/")]
    finally:
        w.close()


def test_set_topic_writes_reach_the_simulator(env: Env) -> None:
    w = env.watcher(["smarthome/bms_1/setpoint"])
    try:
        writes = env.bus("bridge")["writes"]
        w.publish("smarthome/bms_1/setpoint/set", "42.5")
        env.d.wait_for(lambda: env.d.call("get", address="bms_1.setpoint")["value"] == 42.5,
                       10, "bms_1.setpoint = 42.5")
        got = env.d.call("get", address="bms_1.setpoint")
        assert got["ack"] is True and got["quality"] == "good"
        # a JSON object with a value works too, on a path with dots
        w.publish("smarthome/plc_1/MAIN/setpoint/set", json.dumps({"value": 19.5}))
        env.d.wait_for(lambda: env.d.call("get", address="plc_1.MAIN.setpoint")["value"] == 19.5,
                       10, "plc_1.MAIN.setpoint = 19.5")
        # the new state comes back out on MQTT
        wait_until(lambda: any(json.loads(p)["value"] == 42.5
                               for p, _ in w.on("smarthome/bms_1/setpoint")), 10)
        # through a 3.1.1 bridge with raw payloads as well
        w.publish("rawhome/bms_1/setpoint/set", "7")
        env.d.wait_for(lambda: env.d.call("get", address="bms_1.setpoint")["value"] == 7.0,
                       10, "bms_1.setpoint = 7")
        env.d.wait_for(lambda: env.bus("bridge")["writes"] >= writes + 2, 10, "writes counted")
        # a write to a datapoint of no instance is refused and counted
        refused = env.bus("bridge")["writes_refused"]
        w.publish("smarthome/nobody/x/set", "1")
        env.d.wait_for(lambda: env.bus("bridge")["writes_refused"] > refused, 10, "refused")
    finally:
        w.close()


def configs(w: Watcher) -> dict[str, dict[str, Any]]:
    return {t: json.loads(p) for t, p in w.latest().items() if t.endswith("/config") and p}


def test_discovery_payloads_follow_the_home_assistant_schema(env: Env) -> None:
    w0 = env.watcher(["lights/kitchen"])
    w0.publish("lights/kitchen", "false")  # gives the writable bool of mqtt_local a value
    w0.close()
    w = env.watcher(["homeassistant/#", "smarthome/bridge/#"])
    try:
        def all_there() -> dict[str, dict[str, Any]]:
            found = configs(w)
            names = {(c["device"]["name"], c["name"]) for c in found.values()}
            wanted = {("inv_1", "energy_total"), ("bms_1", "soc"), ("plc_1", "MAIN.fTemp"),
                      ("plc_1", "MAIN.bAlarmActive"), ("plc_1", "MAIN.setpoint"),
                      ("mqtt_local", "lights/kitchen")}
            return found if wanted <= names else {}

        found = wait_until(all_there, 15, "discovery configs")
        errors = [p for topic, config in found.items() for p in problems(topic, config)]
        assert not errors, "\n".join(errors)

        by_name = {(c["device"]["name"], c["name"]): (t, c) for t, c in found.items()}

        def entity(instance: str, name: str, platform: str) -> dict[str, Any]:
            topic, config = by_name[(instance, name)]
            match = match_topic(topic)
            assert match and match["component"] == platform, topic
            return config

        energy = entity("inv_1", "energy_total", "sensor")
        assert (energy["device_class"], energy["state_class"],
                energy["unit_of_measurement"]) == ("energy", "total_increasing", "kWh")
        power = entity("inv_1", "power", "sensor")
        assert (power["device_class"], power["state_class"]) == ("power", "measurement")
        assert entity("inv_1", "voltage_ac", "sensor")["device_class"] == "voltage"
        assert entity("bms_1", "current", "sensor")["device_class"] == "current"
        assert entity("bms_1", "soc", "sensor")["device_class"] == "battery"
        assert entity("bms_1", "capacity_remaining", "sensor").get("device_class") is None
        temp = entity("plc_1", "MAIN.fTemp", "sensor")
        assert (temp["device_class"], temp["unit_of_measurement"]) == ("temperature", "°C")
        assert temp["expire_after"] == 5 * HEARTBEAT_S
        assert temp["state_topic"] == "smarthome/plc_1/MAIN/fTemp"
        alarm = entity("plc_1", "MAIN.bAlarmActive", "binary_sensor")
        assert alarm["device_class"] == "problem"
        number = entity("plc_1", "MAIN.setpoint", "number")
        assert number["command_topic"] == "smarthome/plc_1/MAIN/setpoint/set"
        switch = entity("mqtt_local", "lights/kitchen", "switch")
        assert switch["command_topic"] == "smarthome/mqtt_local/lights/kitchen/set"
        # without a known kind (an int counter without unit or metadata) nothing is announced
        assert ("plc_1", "MAIN.nCycle") not in by_name
        # one device per instance, unique ids, availability of bridge and instance
        plc = [c for c in found.values() if c["device"]["name"] == "plc_1"]
        assert len({json.dumps(c["device"], sort_keys=True) for c in plc}) == 1
        assert len({c["unique_id"] for c in found.values()}) == len(found)
        topics = [a["topic"] for a in temp["availability"]]
        assert topics[:2] == ["smarthome/bridge/availability",
                              "smarthome/bridge/instances/plc_1/availability"]
        assert temp["availability_mode"] == "all"
        assert w.latest()["smarthome/bridge/instances/plc_1/availability"] == b"online"

        # Home Assistant switches the light through the bridge and the mqtt worker
        lights = env.watcher(["lights/kitchen"])
        try:
            lights.publish(switch["command_topic"], switch["payload_on"])
            wait_until(lambda: (b"true", False) in lights.on("lights/kitchen"), 10,
                       "mqtt_local published the switch command")
            env.d.wait_for(lambda: env.d.call("get",
                                              address="mqtt_local.lights/kitchen")["value"]
                           is True, 10, "switch state")
        finally:
            lights.close()
    finally:
        w.close()


def test_birth_message_republishes_discovery(env: Env) -> None:
    w = env.watcher(["homeassistant/#"])
    try:
        def every_config() -> set[str] | None:
            """Every config the bridge holds, not the first few: the broker hands retained
            messages over 20 at a time, and a re-publish still under way when the watcher
            is cleared would land after "offline" below."""
            found = set(configs(w))
            return found if len(found) >= env.bus("bridge")["entities"] > 10 else None

        announced = wait_until(every_config, 15, "every retained config")
        w.clear()
        w.publish("homeassistant/status", "online")
        wait_until(lambda: {t for t, _, r in w.messages if not r} >= announced, 10,
                   "configs re-published after the birth message")
        # "offline" (Home Assistant's last will) triggers nothing
        w.clear()
        w.publish("homeassistant/status", "offline")
        time.sleep(1.5)
        late = [t for t, _, _ in w.messages if t.endswith("/config")]
        assert not late, f"{len(late)} configs after 'offline' ({len(announced)} in all)"
    finally:
        w.close()


def test_mqtt_worker_turns_messages_into_datapoints(env: Env) -> None:
    w = env.watcher(["smarthome/mqtt_local/#"])
    try:
        w.publish("alarms/critical", "true")
        w.publish("sensors/kitchen", json.dumps({"data": {"temperature": 21.5,
                                                          "humidity": 40}}))
        w.publish("alarms/text", "door open")
        get = env.d.call
        env.d.wait_for(lambda: get("get", address="mqtt_local.alarms/critical")["value"] is True,
                       10, "alarms/critical")
        env.d.wait_for(lambda: get("get", address="mqtt_local.sensors/kitchen.temp")["value"]
                       == 21.5, 10, "unpacked JSON")
        assert get("get", address="mqtt_local.sensors/kitchen.hum")["value"] == 40
        env.d.wait_for(lambda: get("get", address="mqtt_local.alarms/text")["value"]
                       == "door open", 10, "text payload")
        # the bridge mirrors them: the path is the topic, dots become levels
        assert state(w, "smarthome/mqtt_local/alarms/critical")["value"] is True
        assert state(w, "smarthome/mqtt_local/sensors/kitchen/temp")["value"] == 21.5
    finally:
        w.close()


def test_mqtt_worker_publishes_set_and_routed_commands(env: Env) -> None:
    w = env.watcher(["out/#"])
    try:
        env.d.call("set", address="mqtt_local.out/cmd", value={"on": True})
        wait_until(lambda: w.on("out/cmd"), 10, "out/cmd")
        assert w.on("out/cmd")[0][0] == b'{"on":true}'
        # routed: the simulator's new setpoint (ack true) is routed to the mqtt instance
        env.d.call("set", address="plc_1.MAIN.setpoint", value=23)
        wait_until(lambda: (b"23.0", False) in w.on("out/setpoint"), 10, "routed publish")
        # the publish rule for out/# retains: a new subscriber gets the last command
        late = env.watcher(["out/cmd"])
        try:
            assert wait_until(lambda: late.on("out/cmd"), 10)[0] == (b'{"on":true}', True)
        finally:
            late.close()
        got = env.d.call("get", address="mqtt_local.out/cmd")
        assert got["value"] == {"on": True}
        assert env.bus("mqtt_local")["commands_sent"] >= 2
    finally:
        w.close()


def test_writes_the_device_refuses_are_counted_per_instance(env: Env) -> None:
    w = env.watcher(["smarthome/plc_1/MAIN/fTemp"])
    try:
        before = env.bus("bridge").get("writes_refused_by_instance", {})
        w.publish("smarthome/plc_1/MAIN/fTemp/set", "30")  # read-only
        w.publish("smarthome/bms_1/setpoint/set", "abc")  # not a number

        def counted() -> bool:
            now = env.bus("bridge")["writes_refused_by_instance"]
            return all(now.get(i, 0) > before.get(i, 0) for i in ("plc_1", "bms_1"))

        env.d.wait_for(counted, 10, "refusals counted per instance")
        env.d.wait_for(lambda: env.bus("plc_1")["last_refusal"]  # with its next heartbeat
                       == "plc_1.MAIN.fTemp is read-only", 10, "the refusal in plc_1's figures")
    finally:
        w.close()
