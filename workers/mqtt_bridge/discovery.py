"""Home Assistant MQTT discovery configs derived from datapoint metadata.

One HA device per instance; per datapoint a ``sensor`` (numbers, text with metadata),
``binary_sensor`` (bools), ``number`` (writable numbers) or ``switch`` (writable bools).
Datapoints without a known kind (no unit, no metadata, not a bool) are mirrored but not
announced, so counters and debug values do not flood Home Assistant.

Availability is three-fold (mode ``all``): the bridge (last will), the instance's worker
and, with JSON payloads, the value's own quality. ``expire_after`` is five times the
longer of the poll interval and the bridge's heartbeat: the owner's gateway flapped
with 180 s against a 90 s heartbeat and was stable with 300 s against 60 s.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from edgeos.workers.mqtt_bridge.topics import SET_SUFFIX, Topics, safe_id

EXPIRE_FACTOR = 5
MANUFACTURER = "SmartHome Edge OS"

# unit -> (device_class, state_class) for numeric sensors
UNIT_CLASSES: dict[str, tuple[str, str]] = {
    "Wh": ("energy", "total_increasing"), "kWh": ("energy", "total_increasing"),
    "MWh": ("energy", "total_increasing"),
    "W": ("power", "measurement"), "kW": ("power", "measurement"),
    "V": ("voltage", "measurement"), "mV": ("voltage", "measurement"),
    "A": ("current", "measurement"), "mA": ("current", "measurement"),
    "°C": ("temperature", "measurement"), "°F": ("temperature", "measurement"),
    "K": ("temperature", "measurement"),
    "Hz": ("frequency", "measurement"),
}
_BATTERY = re.compile(r"soc|battery", re.IGNORECASE)
_PROBLEM = re.compile(r"alarm|fault|error", re.IGNORECASE)
_INTEGRAL = re.compile(r"(u?s?int|u?dint|u?lint|word|dword|byte)")
_NUMERIC = re.compile(r"(u?s?int|u?dint|u?lint|float|double|real|lreal|number|word|dword|byte)")


@dataclass(frozen=True)
class Point:
    """What the broker knows of one datapoint (``datapoints`` control command)."""

    address: str
    instance: str
    path: str
    value: Any
    unit: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    topics: Topics
    discovery_prefix: str
    payload: str  # "json" or "raw"
    heartbeat_s: float
    origin: dict[str, str]


def kind(point: Point) -> str | None:
    """``bool``, ``number`` or ``string``: from the value, or the declared type if the value
    says nothing (types are named per protocol: ``BOOL``, ``int16``, ``float32``, ``LREAL``)."""
    declared = str(point.meta.get("type") or "").lower()
    value = point.value
    if declared.startswith("bool") or isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None and _NUMERIC.match(declared):
        return "number"
    if value is None and declared.startswith(("str", "text")):
        return "string"
    return None


def integral(point: Point) -> bool:
    declared = str(point.meta.get("type") or "").lower()
    if declared:
        return bool(_INTEGRAL.match(declared))
    return isinstance(point.value, int) and not isinstance(point.value, bool)


def unit_of(point: Point) -> str | None:
    return point.meta.get("unit") or point.unit


def classes(point: Point) -> tuple[str | None, str | None]:
    """``(device_class, state_class)`` of a numeric sensor; metadata wins over the unit."""
    unit = unit_of(point)
    device_class, state_class = UNIT_CLASSES.get(unit or "", (None, None))
    if unit == "%" and _BATTERY.search(point.path):
        device_class, state_class = "battery", "measurement"
    elif unit and state_class is None:
        state_class = "measurement"
    return (point.meta.get("device_class", device_class),
            point.meta.get("state_class", state_class))


def component(point: Point) -> str | None:
    """The HA platform for a datapoint, or None when it is not announced."""
    k = kind(point)
    if point.meta.get("discovery") is False or k is None:
        return None
    if point.meta.get("writable"):
        return {"bool": "switch", "number": "number"}.get(k)
    if k == "bool":
        return "binary_sensor"
    if unit_of(point) or point.meta:
        return "sensor"
    return None


def expire_after(point: Point, heartbeat_s: float) -> int:
    interval = max(float(point.meta.get("poll_interval_s") or 0), heartbeat_s)
    return max(1, math.ceil(EXPIRE_FACTOR * interval))


def config_topic(settings: Settings, platform: str, point: Point) -> str:
    return (f"{settings.discovery_prefix}/{platform}/{safe_id(point.instance)}/"
            f"{safe_id(point.path)}/config")


def entity(settings: Settings, point: Point,
           instance_type: str) -> tuple[str, dict[str, Any]] | None:
    """``(config topic, config)`` for a datapoint, or None when it is not announced."""
    platform = component(point)
    if platform is None:
        return None
    topics = settings.topics
    state_topic = topics.state(point.instance, point.path)
    is_json = settings.payload == "json"
    availability = [{"topic": topics.availability},
                    {"topic": topics.instance_availability(point.instance)}]
    if is_json:
        availability.append({"topic": state_topic, "value_template":
                             "{{ 'offline' if value_json.quality == 'bad' else 'online' }}"})
    config: dict[str, Any] = {
        "name": point.path,
        "unique_id": f"edgeos_{safe_id(point.address)}",
        "state_topic": state_topic,
        "availability": availability,
        "availability_mode": "all",
        "device": {"identifiers": [f"edgeos_{safe_id(point.instance)}"],
                   "name": point.instance, "manufacturer": MANUFACTURER,
                   "model": instance_type or "instance"},
        "origin": settings.origin,
        "qos": 1,
    }
    value = "value_json.value" if is_json else "value"
    on_off = f"{{{{ 'ON' if {value} else 'OFF' }}}}"
    if platform in ("sensor", "number"):
        if is_json:
            config["value_template"] = "{{ value_json.value }}"
        unit = unit_of(point)
        device_class, state_class = classes(point) if kind(point) == "number" else (None, None)
        if unit:
            config["unit_of_measurement"] = unit
        if device_class:
            config["device_class"] = device_class
        if platform == "sensor":
            if state_class:
                config["state_class"] = state_class
            config["expire_after"] = expire_after(point, settings.heartbeat_s)
    if platform == "binary_sensor":
        if is_json:
            config.update(value_template=on_off, payload_on="ON", payload_off="OFF")
        else:
            config.update(payload_on="true", payload_off="false")
        device_class = point.meta.get("device_class") or (
            "problem" if _PROBLEM.search(point.path) else None)
        if device_class:
            config["device_class"] = device_class
        config["expire_after"] = expire_after(point, settings.heartbeat_s)
    if platform in ("switch", "number"):
        config["command_topic"] = state_topic + SET_SUFFIX
        config["retain"] = False
    if platform == "switch":
        config.update(payload_on="true", payload_off="false")
        if is_json:
            config.update(value_template=on_off, state_on="ON", state_off="OFF")
        else:
            config.update(state_on="true", state_off="false")
    if platform == "number":
        bounded = "min" in point.meta or "max" in point.meta
        config.update(min=float(point.meta.get("min", -1e9)),
                      max=float(point.meta.get("max", 1e9)),
                      step=float(point.meta.get("step", 1 if integral(point) else 0.01)),
                      mode="auto" if bounded else "box")
    return config_topic(settings, platform, point), config
