"""Home Assistant discovery configs from datapoint metadata, checked against HA's schema."""

from __future__ import annotations

from typing import Any

import pytest
from edgeos.workers.mqtt_bridge import discovery
from edgeos.workers.mqtt_bridge.discovery import Point, Settings
from edgeos.workers.mqtt_bridge.topics import Topics

from tests.integration.mqtt.ha_schema import match_topic, problems

ORIGIN = {"name": "SmartHome Edge OS", "sw_version": "0.1.0"}


def settings(payload: str = "json", heartbeat_s: float = 60) -> Settings:
    return Settings(Topics("smarthome"), "homeassistant", payload, heartbeat_s, ORIGIN)


def point(path: str, value: Any, unit: str | None = None, instance: str = "plc_001",
          **meta: Any) -> Point:
    return Point(f"{instance}.{path}", instance, path, value, unit, meta)


@pytest.mark.parametrize(("unit", "path", "expected"), [
    ("kWh", "energy_total", ("energy", "total_increasing")),
    ("Wh", "meter.energy", ("energy", "total_increasing")),
    ("W", "power", ("power", "measurement")),
    ("V", "voltage", ("voltage", "measurement")),
    ("A", "current", ("current", "measurement")),
    ("%", "soc", ("battery", "measurement")),
    ("%", "fbBattery.level", ("battery", "measurement")),
    ("%", "valve_position", (None, "measurement")),
    ("°C", "MAIN.fTemp", ("temperature", "measurement")),
    ("Ah", "capacity_remaining", (None, "measurement")),
])
def test_classes_follow_the_unit(unit: str, path: str, expected: tuple[Any, Any]) -> None:
    assert discovery.classes(point(path, 1.5, unit)) == expected


def test_metadata_wins_over_the_unit() -> None:
    p = point("gas", 12.0, "m³", device_class="gas", state_class="total_increasing")
    assert discovery.classes(p) == ("gas", "total_increasing")


@pytest.mark.parametrize(("p", "platform"), [
    (point("MAIN.fTemp", 21.5, "°C"), "sensor"),
    (point("MAIN.bAlarm", True), "binary_sensor"),
    (point("MAIN.setpoint", 21.0, "°C", writable=True, type="float"), "number"),
    (point("MAIN.bPump", False, writable=True), "switch"),
    (point("status", "running", description="Betriebsart"), "sensor"),
    (point("MAIN.nCycle", 17), None),  # no unit, no metadata: not announced
    (point("alarms/text", "door open"), None),
    (point("MAIN.fTemp", 21.5, "°C", discovery=False), None),
    (point("blob", {"blob_bytes": 10}), None),
    (point("flow_temp", 41.5, "°C", type="int16", device_class="temperature"), "sensor"),
    (point("mode", 2, type="uint16", writable=True, description="0 off, 1 heat"), "number"),
    (point("enable", True, type="coil", writable=True), "switch"),
    (point("MAIN.bReady", None, type="BOOL"), "binary_sensor"),
    (point("MAIN.fLimit", None, type="LREAL", writable=True), "number"),
    (point("firmware", "1.2.3", type="string", poll_interval_s=3600), "sensor"),
])
def test_platform_per_kind(p: Point, platform: str | None) -> None:
    assert discovery.component(p) == platform


def test_expire_after_is_five_times_the_longer_interval() -> None:
    # the owner's gateway flapped at 180 s against a 90 s heartbeat; 300 s vs 60 s is stable
    assert discovery.expire_after(point("x", 1.0, "V"), 60) == 300
    assert discovery.expire_after(point("x", 1.0, "V", poll_interval_s=120), 60) == 600
    assert discovery.expire_after(point("x", 1.0, "V", poll_interval_s=15), 60) == 300


POINTS = [
    point("energy_total", 1234.5, "kWh", instance="inverter_001"),
    point("power", 800.0, "W", instance="inverter_001"),
    point("soc", 55.0, "%", instance="bt.bms_001"),
    point("cells.3", 3.31, "V", instance="bt.bms_001"),
    point("MAIN.fbBattery.fVoltage", 51.2, "V"),
    point("MAIN.bAlarmActive", False),
    point("MAIN.setpoint", 21.0, "°C", writable=True, type="float", min=5, max=30),
    point("MAIN.bPump", True, writable=True),
    point("MAIN.nMode", 2, writable=True, type="int"),
    point("alarms/critical", True, instance="mqtt.broker_local"),
    point("status", "ok", type="string"),
]


@pytest.mark.parametrize("payload", ["json", "raw"])
@pytest.mark.parametrize("p", POINTS, ids=[p.address for p in POINTS])
def test_every_config_passes_the_home_assistant_schema(p: Point, payload: str) -> None:
    topic, config = discovery.entity(settings(payload), p, "simulator")
    assert problems(topic, config) == []
    match = match_topic(topic)
    assert match and match["component"] == discovery.component(p)
    assert config["state_topic"] == "smarthome/" + p.instance + "/" + p.path.replace(".", "/")
    assert config["device"]["identifiers"] == [f"edgeos_{match['node_id']}"]


def test_json_configs_read_value_and_quality() -> None:
    _, config = discovery.entity(settings(), point("MAIN.fTemp", 21.5, "°C"), "ads")
    assert config["value_template"] == "{{ value_json.value }}"
    assert config["availability"][2]["topic"] == config["state_topic"]
    assert "quality == 'bad'" in config["availability"][2]["value_template"]
    _, raw = discovery.entity(settings("raw"), point("MAIN.fTemp", 21.5, "°C"), "ads")
    assert "value_template" not in raw and len(raw["availability"]) == 2


def test_writables_take_commands_on_set() -> None:
    _, number = discovery.entity(settings(), POINTS[6], "ads")
    assert number["command_topic"] == "smarthome/plc_001/MAIN/setpoint/set"
    assert (number["min"], number["max"], number["mode"]) == (5.0, 30.0, "auto")
    assert number["step"] == 0.01
    _, mode = discovery.entity(settings(), point("mode", 2, type="uint16", writable=True), "x")
    assert (mode["step"], mode["mode"]) == (1.0, "box")
    _, switch = discovery.entity(settings(), POINTS[7], "ads")
    assert (switch["payload_on"], switch["payload_off"]) == ("true", "false")
    assert (switch["state_on"], switch["state_off"]) == ("ON", "OFF")


def test_ids_stay_apart_when_sanitising_would_merge_them() -> None:
    a = discovery.entity(settings(), point("MAIN.fTemp", 1.0, "°C"), "ads")
    b = discovery.entity(settings(), point("MAIN_fTemp", 1.0, "°C"), "ads")
    assert a[0] != b[0] and a[1]["unique_id"] != b[1]["unique_id"]


def test_the_schema_check_catches_what_home_assistant_refuses() -> None:
    topic, good = discovery.entity(settings(), point("energy", 1.0, "kWh"), "ads")
    assert problems(topic, {**good, "state_class": "measurement"})  # energy is a total
    assert problems(topic, {**good, "unit_of_measurement": "W"})
    assert problems(topic, {k: v for k, v in good.items() if k != "state_topic"})
    assert problems(topic, {**good, "expire_afer": 300})  # typo
    assert problems(topic, {**good, "device": {"name": "no identifiers"}})
    assert problems(topic, {**good, "availability_topic": "x"})  # both availability forms
    assert problems("homeassistant/sensor/bad.id/x/config", good)
