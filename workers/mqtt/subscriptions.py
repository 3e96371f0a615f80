"""The ``subscribe`` and ``publish`` entries of an ``mqtt`` instance.

A received message becomes the datapoint ``<id>.<topic>`` (the topic as is); with a
``json`` map its members become ``<id>.<topic>.<name>`` instead (plus the whole payload
when ``keep_raw`` is set). Publish rules give QoS and retain per topic filter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from edgeos.workers.mqtt import payload
from paho.mqtt.client import topic_matches_sub

META_KEYS = ("unit", "type", "writable", "device_class", "state_class", "description")


def filter_problem(topic: str) -> str | None:
    """Why ``topic`` is not a valid MQTT topic filter, or None."""
    if not topic:
        return "empty topic filter"
    if len(topic.encode()) > 65535:
        return "topic filter longer than 65535 bytes"
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return f"'#' must be a whole last level in {topic!r}"
        if "+" in level and level != "+":
            return f"'+' must be a whole level in {topic!r}"
    return None


def topic_problem(topic: str) -> str | None:
    """Why ``topic`` cannot be published to, or None."""
    if not topic:
        return "empty topic"
    if "+" in topic or "#" in topic:
        return f"wildcards are not allowed in a published topic: {topic!r}"
    return None


@dataclass(frozen=True)
class TopicSubscription:
    """One ``subscribe`` entry: a filter and how its payloads become datapoints."""

    topic: str
    qos: int = 0
    format: str = "auto"
    json: dict[str, str] = field(default_factory=dict)
    keep_raw: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    def matches(self, topic: str) -> bool:
        return topic_matches_sub(self.topic, topic)

    def datapoints(self, topic: str, raw: bytes) -> Iterator[tuple[str, Any]]:
        """``(path, value)`` for a message on ``topic``; ``ValueError`` on a bad payload."""
        fmt = "json" if self.json else self.format
        value = payload.decode(raw, fmt)
        if not self.json or self.keep_raw:
            yield topic, value
        for name, path in self.json.items():
            try:
                yield f"{topic}.{name}", payload.extract(value, path)
            except KeyError:
                continue  # this message does not carry that member


@dataclass(frozen=True)
class PublishRule:
    """QoS and retain for commands published to topics matching ``topic``."""

    topic: str
    qos: int
    retain: bool

    def matches(self, topic: str) -> bool:
        return topic_matches_sub(self.topic, topic)


def parse_subscriptions(entries: list[Any], default_qos: int) -> list[TopicSubscription]:
    """The ``subscribe`` list (strings or objects); ``ValueError`` names a bad filter."""
    subs = []
    for entry in entries:
        spec = {"topic": entry} if isinstance(entry, str) else dict(entry)
        problem = filter_problem(spec["topic"])
        if problem:
            raise ValueError(problem)
        subs.append(TopicSubscription(
            topic=spec["topic"], qos=int(spec.get("qos", default_qos)),
            format=spec.get("format", "auto"), json=dict(spec.get("json") or {}),
            keep_raw=bool(spec.get("keep_raw", False)),
            meta={k: spec[k] for k in META_KEYS if k in spec}))
    return subs


def parse_publish_rules(entries: list[dict[str, Any]], default_qos: int,
                        default_retain: bool) -> list[PublishRule]:
    rules = []
    for entry in entries:
        problem = filter_problem(entry["topic"])
        if problem:
            raise ValueError(problem)
        rules.append(PublishRule(entry["topic"], int(entry.get("qos", default_qos)),
                                 bool(entry.get("retain", default_retain))))
    return rules
