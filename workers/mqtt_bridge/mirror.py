"""The last state the bridge published per datapoint, and when.

Only changes are published (value or quality), plus a heartbeat: a datapoint that has
not been published for ``heartbeat_s`` is published again, so Home Assistant's
``expire_after`` never fires while its source is healthy but quiet.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgeos.workers.mqtt import payload as payloads
from edgeos.workers.mqtt_bridge.queue import Message
from edgeos.workers.mqtt_bridge.topics import Topics


@dataclass
class State:
    instance: str
    topic: str
    value: Any
    ts: int
    quality: str
    sent_at: float


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type (``1``, ``1.0`` and ``True`` are different states)."""
    return type(a) is type(b) and a == b


class StateMirror:
    def __init__(self, topics: Topics, payload: str, heartbeat_s: float) -> None:
        self.topics = topics
        self.payload = payload
        self.heartbeat_s = heartbeat_s
        self.states: dict[str, State] = {}
        self.by_topic: dict[str, str] = {}  # state topic -> address

    def encode(self, state: State) -> bytes:
        if self.payload == "raw":  # an empty payload would delete the retained message
            return payloads.encode(state.value) or b'""'
        return json.dumps({"value": state.value, "ts": state.ts, "quality": state.quality},
                          separators=(",", ":"), ensure_ascii=False, default=str).encode()

    def update(self, address: str, instance: str, path: str, value: Any, ts: int,
               quality: str, now: float) -> Message | None:
        """The message for a new value of ``address``, or None if nothing changed."""
        state = self.states.get(address)
        if state is None:
            topic = self.topics.state(instance, path)
            state = self.states[address] = State(instance, topic, value, ts, quality, now)
            self.by_topic[topic] = address
        elif (same(state.value, value) and state.quality == quality
              and now - state.sent_at < self.heartbeat_s):
            state.ts = ts
            return None
        else:
            state.value, state.ts, state.quality, state.sent_at = value, ts, quality, now
        return Message(state.topic, self.encode(state))

    def due(self, now: float, online: Callable[[str], bool]) -> list[Message]:
        """Heartbeat: states of running instances not published for ``heartbeat_s``."""
        out = []
        for state in self.states.values():
            if now - state.sent_at >= self.heartbeat_s and online(state.instance):
                state.sent_at = now
                out.append(Message(state.topic, self.encode(state)))
        return out

    def snapshot(self) -> list[Message]:
        """Every last state, to restore retained topics on a broker that lost them."""
        return [Message(s.topic, self.encode(s)) for s in self.states.values()]

    def address_for(self, topic: str) -> str | None:
        return self.by_topic.get(topic)

    def forget_instance(self, instance: str) -> list[Message]:
        """Drop an instance that no longer exists; empty retained payloads clear its topics."""
        gone = [a for a, s in self.states.items() if s.instance == instance]
        out = []
        for address in gone:
            state = self.states.pop(address)
            self.by_topic.pop(state.topic, None)
            out.append(Message(state.topic, b""))
        return out
