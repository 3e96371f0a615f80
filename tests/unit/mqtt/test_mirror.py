"""Which states the bridge publishes: changes, heartbeats, snapshots."""

from __future__ import annotations

import json

from edgeos.workers.mqtt_bridge.mirror import StateMirror
from edgeos.workers.mqtt_bridge.topics import Topics


def test_only_changes_and_heartbeats_are_published() -> None:
    m = StateMirror(Topics("smarthome"), "json", heartbeat_s=60)
    first = m.update("plc.MAIN.x", "plc", "MAIN.x", 1.0, 1000, "good", now=0)
    assert first is not None and first.topic == "smarthome/plc/MAIN/x" and first.retain
    assert json.loads(first.payload) == {"value": 1.0, "ts": 1000, "quality": "good"}
    assert m.update("plc.MAIN.x", "plc", "MAIN.x", 1.0, 2000, "good", now=1) is None
    assert m.update("plc.MAIN.x", "plc", "MAIN.x", 1, 2000, "good", now=1) is not None  # type
    assert m.update("plc.MAIN.x", "plc", "MAIN.x", 1, 3000, "bad", now=2) is not None
    assert m.due(30, online=lambda _: True) == []
    due = m.due(62, online=lambda _: True)
    assert [json.loads(d.payload)["ts"] for d in due] == [3000]
    assert m.due(200, online=lambda _: False) == []  # a stopped instance is not kept alive
    assert m.address_for("smarthome/plc/MAIN/x") == "plc.MAIN.x"


def test_raw_payloads_are_bare_values() -> None:
    m = StateMirror(Topics("raw"), "raw", heartbeat_s=60)
    payloads = [m.update(f"i.p{n}", "i", f"p{n}", v, 0, "good", 0).payload
                for n, v in enumerate([True, 21.5, "on", None, "", {"a": 1}])]
    assert payloads == [b"true", b"21.5", b"on", b"null", b'""', b'{"a":1}']


def test_forgetting_an_instance_clears_its_retained_states() -> None:
    m = StateMirror(Topics("smarthome"), "json", heartbeat_s=60)
    m.update("a.x", "a", "x", 1, 0, "good", 0)
    m.update("b.y", "b", "y", 2, 0, "good", 0)
    assert [(g.topic, g.payload) for g in m.forget_instance("a")] == [("smarthome/a/x", b"")]
    assert [s.topic for s in m.snapshot()] == ["smarthome/b/y"]

