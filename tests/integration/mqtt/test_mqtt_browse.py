"""The MQTT topic browser: a bounded temporary subscription on an mqtt instance's broker
(a real mosquitto), topics with values and short history; subscribing makes datapoints."""

from __future__ import annotations

import json
import threading
from typing import Any

from tests.integration.mqtt.mosquitto import Mosquitto


def test_topics_values_history_and_subscribing(daemon_factory: Any, mosquitto: Mosquitto,
                                               watch: Any) -> None:
    entry = {"id": "mq", "type": "mqtt", "config": {
        "host": "127.0.0.1", "port": mosquitto.port, "subscribe": ["house/kitchen/#"]}}
    d = daemon_factory([entry]).start()
    client = watch(mosquitto.port, ["unused/#"])
    client.publish("house/garage/door", "open", retain=True)
    client.publish("house/kitchen/temp", json.dumps({"value": 21.5}))
    stop = threading.Event()

    def chatter() -> None:
        n = 0
        while not stop.wait(0.1):
            n += 1
            client.publish("house/cellar/pump/power", str(n))

    talker = threading.Thread(target=chatter, daemon=True)
    talker.start()
    try:
        job = d.call("browse", id="mq", filter="house/#", duration_s=1.5)
        done = d.wait_for(lambda: (j := d.call("discover_status", job=job["id"]))["state"]
                          != "running" and j, what="browse job")
    finally:
        stop.set()
        talker.join(2)
    assert done["state"] == "done", done["error"]
    topics = {t["topic"]: t for t in done["result"]["topics"]}
    assert topics["house/garage/door"]["value"] == "open"
    assert topics["house/garage/door"]["retained"] is True
    assert topics["house/garage/door"]["subscribed"] is False
    pump = topics["house/cellar/pump/power"]
    assert pump["messages"] >= 5 and len(pump["history"]) == 5
    values = [v for _, v in pump["history"]]
    assert values == sorted(values) and isinstance(values[0], int)
    assert done["result"]["subscribe"] == ["house/kitchen/#"]
    # subscribe from the page: the filter list grows and the topic becomes a datapoint
    entry["config"]["subscribe"] = ["house/kitchen/#", "house/garage/door"]
    d.write_connections([entry])
    d.call("reload")
    d.wait_for(lambda: d.call("get", address="mq.house/garage/door")["value"] == "open",
               what="the subscribed topic as a datapoint")


def test_a_bad_filter_or_an_unreachable_broker_is_refused(daemon_factory: Any) -> None:
    from edgeos.ipc.rpc import RpcError

    entry = {"id": "mq", "type": "mqtt", "config": {"host": "127.0.0.1", "port": 1,
                                                    "subscribe": ["x/#"]}}
    d = daemon_factory([entry]).start(wait=False)
    d.wait_for(lambda: d.status("mq")["instances"][0]["status"] == "running", what="running")
    try:
        d.call("browse", id="mq", filter="a/#/b")
        raise AssertionError("a bad filter was accepted")
    except RpcError as exc:
        assert "a/#/b" in str(exc)
    job = d.call("browse", id="mq", duration_s=30)
    done = d.wait_for(lambda: (j := d.call("discover_status", job=job["id"]))["state"]
                      != "running" and j, what="browse job ends")
    assert done["state"] == "failed" and "127.0.0.1:1" in done["error"]
    assert done["progress"] < 0.5  # it gave up at the refusal, not at the end
