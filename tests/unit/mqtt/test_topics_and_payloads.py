"""Topics, payload decoding and subscriptions of the mqtt worker and the bridge."""

from __future__ import annotations

import json
import logging

import pytest
from edgeos.workers.mqtt import payload
from edgeos.workers.mqtt.client import MqttLink, Subscription
from edgeos.workers.mqtt.subscriptions import filter_problem, parse_subscriptions, topic_problem
from edgeos.workers.mqtt_bridge.topics import Topics, safe_id


def test_state_and_set_topics() -> None:
    t = Topics("smarthome/")
    assert t.state("plc_001", "MAIN.fbBattery.fVoltage") == \
        "smarthome/plc_001/MAIN/fbBattery/fVoltage"
    assert t.state("mqtt_local", "alarms/critical") == "smarthome/mqtt_local/alarms/critical"
    assert t.set_target("smarthome/plc_001/MAIN/setpoint/set") == ("plc_001", "MAIN.setpoint")
    assert t.set_target("smarthome/bt.bms_001/setpoint/set") == ("bt.bms_001", "setpoint")
    assert t.set_target("smarthome/plc_001/set") is None  # no path
    assert t.set_target("other/plc_001/x/set") is None
    assert t.set_target("smarthome/plc_001/x") is None


def test_safe_ids() -> None:
    assert safe_id("plc_001") == "plc_001"
    assert safe_id("MAIN.fTemp").startswith("MAIN_fTemp_")
    assert safe_id("MAIN.fTemp") != safe_id("MAIN/fTemp")
    assert all(c.isalnum() or c in "_-" for c in safe_id("a.b/c d°"))


@pytest.mark.parametrize(("raw", "value"), [
    (b"21.5", 21.5), (b"true", True), (b"ON", "ON"), (b'{"a": [1, 2]}', {"a": [1, 2]}),
    (b"", None), (b'"quoted"', "quoted"), (b"caf\xc3\xa9", "café"),
])
def test_decode_guesses_like_users_expect(raw: bytes, value: object) -> None:
    assert payload.decode(raw) == value


def test_decode_formats_and_encode() -> None:
    assert payload.decode(b"21.5", "text") == "21.5"
    with pytest.raises(ValueError):
        payload.decode(b"not json", "json")
    assert payload.encode("on") == b"on"
    assert payload.encode(True) == b"true"
    assert payload.encode({"a": 1.5}) == b'{"a":1.5}'
    assert payload.encode(None) == b"null"


def test_extract_dotted_paths() -> None:
    doc = {"data": {"temp": 21.5, "list": [{"v": 1}, {"v": 2}]}}
    assert payload.extract(doc, "data.temp") == 21.5
    assert payload.extract(doc, "data.list.1.v") == 2
    assert payload.extract(doc, "data.list.-1.v") == 2
    for missing in ("data.humidity", "data.list.5.v", "data.temp.x"):
        with pytest.raises(KeyError):
            payload.extract(doc, missing)


def test_subscriptions_turn_messages_into_datapoints() -> None:
    subs = parse_subscriptions(
        ["alarms/#", {"topic": "tele/+/SENSOR", "json": {"temp": "AM2301.Temperature"},
                      "keep_raw": True, "unit": "°C", "qos": 1}], default_qos=0)
    assert [(s.topic, s.qos) for s in subs] == [("alarms/#", 0), ("tele/+/SENSOR", 1)]
    assert subs[0].matches("alarms/critical") and not subs[0].matches("tele/x/SENSOR")
    assert list(subs[0].datapoints("alarms/critical", b"true")) == [("alarms/critical", True)]
    msg = json.dumps({"AM2301": {"Temperature": 21.3}}).encode()
    assert list(subs[1].datapoints("tele/kitchen/SENSOR", msg)) == [
        ("tele/kitchen/SENSOR", {"AM2301": {"Temperature": 21.3}}),
        ("tele/kitchen/SENSOR.temp", 21.3)]
    assert subs[1].meta == {"unit": "°C"}
    with pytest.raises(ValueError):  # a json map needs JSON
        list(subs[1].datapoints("tele/kitchen/SENSOR", b"offline"))


@pytest.mark.parametrize("bad", ["", "a/#/b", "a/b#", "a+/b"])
def test_bad_filters_are_refused(bad: str) -> None:
    assert filter_problem(bad)
    with pytest.raises(ValueError):
        parse_subscriptions([bad], 0)


def test_published_topics_have_no_wildcards() -> None:
    assert topic_problem("alarms/critical") is None
    assert topic_problem("alarms/#") and topic_problem("a/+/b") and topic_problem("")


def test_a_topic_mqtt_refuses_is_counted_not_fatal() -> None:
    """A path with a wildcard character cannot be published; the bridge must live on (a
    crash would replay the same queued row forever)."""
    link = MqttLink({"host": "127.0.0.1"}, client_id="t", log=logging.getLogger("t"))
    assert link.publish("smarthome/plc/a+b", b"1", 1, True) is None
    assert "refused" in (link.last_error or "")
    assert link.publish("smarthome/plc/ok", b"1", 1, True) is not None  # waits for a connection


def test_a_refused_subscription_is_named_and_never_counts_as_subscribed() -> None:
    """The SUBACK's answers as the event loop gets them (mosquitto grants even what its ACL
    hides, so no real broker here refuses): a refused filter is named in ``last_error``;
    the answer to an earlier connection's SUBSCRIBE changes nothing."""
    link = MqttLink({"host": "127.0.0.1"}, client_id="t", log=logging.getLogger("t"),
                    subscriptions=[Subscription("alarms/#", 1), Subscription("secret/#", 1)])
    link._subscribing(7)  # this connection's SUBSCRIBE
    link._subscribed(6, [None, None])  # an earlier connection's SUBACK
    assert link.subscribed is False
    link._subscribed(7, [None, "Unspecified error"])
    assert link.subscribed is False
    assert link.last_error == "mqtt://127.0.0.1:1883 refused the subscription to secret/# " \
                              "(Unspecified error)"
    link._subscribing(8)
    link._subscribed(8, [None, None])
    assert link.stats()["subscribed"] is True
    link._subscribing(None)  # a link without subscriptions is subscribed once connected
    assert link.subscribed is True
