"""Home Assistant's MQTT discovery schema for the four platforms the bridge announces.

Transcribed from Home Assistant's ``homeassistant/components/mqtt`` (``schemas.py``:
availability, device and origin; ``config.py``: the read-only/read-write bases;
``sensor.py``, ``binary_sensor.py``, ``switch.py``, ``number.py``) and the integration
docs (sensor.mqtt, binary_sensor.mqtt, switch.mqtt, number.mqtt). Unknown keys are
errors here, so a misspelt key cannot pass. Sensor device classes come with the units and
state classes Home Assistant accepts for them.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema

# applied to the topic after "<discovery prefix>/", as Home Assistant does
TOPIC_MATCHER = re.compile(
    r"^(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config$")

_STR = {"type": "string"}
_TOPIC = {"type": "string", "minLength": 1, "pattern": r"^[^\x00]*$"}
_PUB_TOPIC = {"type": "string", "minLength": 1, "pattern": r"^[^+#\x00]*$"}
_BOOL = {"type": "boolean"}

_AVAILABILITY = {
    "availability": {"type": "array", "items": {
        "type": "object", "required": ["topic"], "additionalProperties": False,
        "properties": {"topic": _TOPIC, "payload_available": _STR,
                       "payload_not_available": _STR, "value_template": _STR}}},
    "availability_mode": {"enum": ["all", "any", "latest"]},
    "availability_topic": _TOPIC,
    "availability_template": _STR,
    "payload_available": _STR,
    "payload_not_available": _STR,
}
_DEVICE = {
    "type": "object", "additionalProperties": False,
    "anyOf": [{"required": ["identifiers"]}, {"required": ["connections"]}],
    "properties": {
        "identifiers": {"anyOf": [_STR, {"type": "array", "minItems": 1, "items": _STR}]},
        "connections": {"type": "array", "items": {"type": "array", "minItems": 2,
                                                   "maxItems": 2, "items": _STR}},
        "manufacturer": _STR, "model": _STR, "model_id": _STR, "name": _STR,
        "hw_version": _STR, "serial_number": _STR, "sw_version": _STR,
        "suggested_area": _STR, "via_device": _STR, "configuration_url": _STR}}
_ORIGIN = {"type": "object", "required": ["name"], "additionalProperties": False,
           "properties": {"name": _STR, "sw_version": _STR, "support_url": _STR}}
_COMMON = {
    **_AVAILABILITY,
    "device": _DEVICE, "origin": _ORIGIN, "enabled_by_default": _BOOL,
    "entity_category": {"enum": ["config", "diagnostic"]}, "icon": _STR,
    "json_attributes_topic": _TOPIC, "json_attributes_template": _STR, "object_id": _STR,
    "default_entity_id": _STR, "unique_id": _STR, "name": {"type": ["string", "null"]},
    "qos": {"enum": [0, 1, 2]}, "encoding": _STR, "entity_picture": _STR,
    "platform": {"const": "mqtt"},
}
_RO = {"state_topic": _TOPIC, "value_template": _STR}
_RW = {"command_topic": _PUB_TOPIC, "optimistic": _BOOL, "retain": _BOOL,
       "state_topic": _TOPIC, "value_template": _STR, "command_template": _STR}

# device class -> (accepted units, accepted state classes)
SENSOR_CLASSES: dict[str, tuple[set[str | None], set[str | None]]] = {
    "energy": ({"Wh", "kWh", "MWh", "GWh", "J", "kJ", "MJ", "GJ"},
               {"total", "total_increasing", None}),
    "power": ({"mW", "W", "kW", "MW", "GW", "TW"}, {"measurement", None}),
    "voltage": ({"µV", "mV", "V", "kV", "MV"}, {"measurement", None}),
    "current": ({"mA", "A"}, {"measurement", None}),
    "temperature": ({"°C", "°F", "K"}, {"measurement", None}),
    "battery": ({"%"}, {"measurement", None}),
    "frequency": ({"Hz", "kHz", "MHz", "GHz"}, {"measurement", None}),
}
BINARY_CLASSES = ["battery", "battery_charging", "carbon_monoxide", "cold", "connectivity",
                  "door", "garage_door", "gas", "heat", "light", "lock", "moisture", "motion",
                  "moving", "occupancy", "opening", "plug", "power", "presence", "problem",
                  "running", "safety", "smoke", "sound", "tamper", "update", "vibration",
                  "window"]


def _platform(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "additionalProperties": False,
            "properties": {**_COMMON, **properties},
            "not": {"required": ["availability", "availability_topic"]}}


SCHEMAS = {
    "sensor": _platform(["state_topic"], {
        **_RO, "device_class": {"enum": sorted(SENSOR_CLASSES)},
        "state_class": {"enum": ["measurement", "measurement_angle", "total",
                                 "total_increasing"]},
        "unit_of_measurement": _STR, "expire_after": {"type": "integer", "minimum": 0},
        "force_update": _BOOL, "last_reset_value_template": _STR,
        "suggested_display_precision": {"type": "integer", "minimum": 0},
        "options": {"type": "array", "items": _STR}}),
    "binary_sensor": _platform(["state_topic"], {
        **_RO, "device_class": {"enum": BINARY_CLASSES},
        "expire_after": {"type": "integer", "minimum": 0}, "force_update": _BOOL,
        "off_delay": {"type": "integer", "minimum": 0}, "payload_on": _STR,
        "payload_off": _STR}),
    "switch": _platform(["command_topic"], {
        **_RW, "payload_on": _STR, "payload_off": _STR, "state_on": _STR, "state_off": _STR,
        "device_class": {"enum": ["outlet", "switch"]}}),
    "number": _platform(["command_topic"], {
        **_RW, "min": {"type": "number"}, "max": {"type": "number"},
        "step": {"type": "number", "minimum": 0.001}, "mode": {"enum": ["auto", "box", "slider"]},
        "unit_of_measurement": _STR, "device_class": _STR, "payload_reset": _STR}),
}


def match_topic(topic: str, prefix: str = "homeassistant") -> re.Match[str] | None:
    if not topic.startswith(prefix + "/"):
        return None
    return TOPIC_MATCHER.match(topic[len(prefix) + 1:])


def problems(topic: str, config: dict[str, Any]) -> list[str]:
    """Everything Home Assistant would refuse in this discovery message."""
    match = match_topic(topic)
    if match is None:
        return [f"{topic}: not a discovery config topic"]
    platform = match["component"]
    if platform not in SCHEMAS:
        return [f"{topic}: platform {platform} not checked here"]
    found = [f"{topic}: {e.json_path}: {e.message}"
             for e in jsonschema.Draft202012Validator(SCHEMAS[platform]).iter_errors(config)]
    if platform == "sensor" and config.get("device_class"):
        units, state_classes = SENSOR_CLASSES[config["device_class"]]
        if config.get("unit_of_measurement") not in units:
            found.append(f"{topic}: unit {config.get('unit_of_measurement')!r} is not valid "
                         f"for device class {config['device_class']}")
        if config.get("state_class") not in state_classes:
            found.append(f"{topic}: state class {config.get('state_class')!r} is not valid "
                         f"for device class {config['device_class']}")
    if platform == "number" and config.get("min", 1) >= config.get("max", 100):
        found.append(f"{topic}: min must be smaller than max")
    return found
