"""The ``mqtt`` worker: topics of any MQTT broker as datapoints, commands as publishes."""

from __future__ import annotations

import asyncio
from typing import Any

from edgeos.workers.mqtt import payload
from edgeos.workers.mqtt.client import MqttLink, Subscription, default_client_id
from edgeos.workers.mqtt.subscriptions import (
    PublishRule,
    TopicSubscription,
    parse_publish_rules,
    parse_subscriptions,
    topic_problem,
)
from edgeos.workers.runtime import DeviceError, UnknownDatapoint, Worker


class MqttWorker(Worker):
    """Subscribes to topic filters (``<id>.<topic>``) and publishes commands to topics."""

    type_name = "mqtt"
    link: MqttLink

    async def setup(self) -> None:
        self.qos = int(self.config["qos"])
        self.retain = bool(self.config["retain"])
        self.subs: list[TopicSubscription] = parse_subscriptions(
            self.config.get("subscribe", []), self.qos)
        self.rules: list[PublishRule] = parse_publish_rules(
            self.config.get("publish", []), self.qos, self.retain)
        self.last: dict[str, tuple[Any, str | None]] = {}  # path -> (value, unit)
        self.described: set[str] = set()
        self.bad_payloads = 0
        self.commands_sent = 0
        self.link = MqttLink(
            self.config, client_id=self.config.get("client_id") or default_client_id(self.id),
            log=self.log, subscriptions=[Subscription(s.topic, s.qos) for s in self.subs],
            on_message=self._on_message, on_state=self._on_state)

    async def run(self) -> None:
        self.link.start()
        await asyncio.Event().wait()

    async def teardown(self) -> None:
        await self.link.stop()

    # -- inbound ---------------------------------------------------------------------
    def _on_message(self, topic: str, raw: bytes, _retained: bool) -> None:
        sub = next((s for s in self.subs if s.matches(topic)), None)
        if sub is None:  # an overlapping subscription of an earlier session
            return
        try:
            points = list(sub.datapoints(topic, raw))
        except ValueError:
            self.bad_payloads += 1
            self.count_error(f"{topic}: payload is not JSON")
            return
        unit = sub.meta.get("unit")
        for path, value in points:
            if path not in self.described and sub.meta:
                self.described.add(path)
                self.publish_meta(path, **sub.meta)
            self.last[path] = (value, unit)
            self.publish(path, value, unit=unit)

    def _on_state(self, connected: bool, reason: str) -> None:
        if connected:
            return
        self.count_error(f"mqtt://{self.link.host}:{self.link.port} {reason}")
        for path, (value, unit) in self.last.items():  # never stale "good" while cut off
            self.publish(path, value, quality="bad", unit=unit)

    # -- outbound --------------------------------------------------------------------
    async def on_command(self, path: str, value: Any) -> None:
        problem = topic_problem(path)
        if problem:
            raise UnknownDatapoint(f"{self.id}.{path}: {problem}")
        rule = next((r for r in self.rules if r.matches(path)), None)
        qos, retain = (rule.qos, rule.retain) if rule else (self.qos, self.retain)
        if not self.link.connected and qos == 0:
            raise DeviceError(f"{self.id}.{path}: not connected, QoS 0 message not sent")
        if self.link.publish(path, payload.encode(value), qos, retain) is None:
            raise DeviceError(f"{self.id}.{path}: {self.link.last_error}")
        self.commands_sent += 1
        if not any(s.matches(path) for s in self.subs):
            # nobody echoes this topic back to us: report what went out as its state
            self.last[path] = (value, None)
            self.publish(path, value, quality="good" if self.link.connected else "uncertain")

    def stats(self) -> dict[str, Any]:
        return {**self.link.stats(), "subscriptions": len(self.subs), "topics": len(self.last),
                "commands_sent": self.commands_sent, "bad_payloads": self.bad_payloads,
                "last_error": self.link.last_error}
