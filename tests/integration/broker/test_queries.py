"""What a worker may ask the broker over its own link (QUERY/ANSWER on broker.sock):
the instances with their states and the datapoints, so no worker needs a control
socket (issue 14 item 2; the MQTT bridge is the user)."""

from __future__ import annotations

from typing import Any

import zmq
from edgeos.ipc import addresses, protocol

from tests.integration.daemon import Daemon, sim


def ask(d: Daemon, identity: str, query: dict[str, Any]) -> Any:
    """Send one QUERY as ``identity``; the ANSWER's body, or None after 5 s."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, identity.encode())
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(addresses.endpoint(d.run, addresses.BROKER))
    try:
        sock.send_multipart([protocol.QUERY, protocol.pack(query)])
        if not sock.poll(5000):
            return None
        kind, body = sock.recv_multipart()
        assert kind == protocol.ANSWER
        return protocol.unpack(body)
    finally:
        sock.close()
        ctx.term()


def test_instances_with_states_and_datapoints_over_the_worker_link(daemon_factory) -> None:
    d = daemon_factory([sim("plc_1", rate_hz=5), sim("spare", enabled=False)]).start()
    d.wait_for(lambda: d.call("get", address="plc_1.MAIN.setpoint"), what="a first value")
    want = {"plc_1": {"type": "simulator", "status": "running"},
            "spare": {"type": "simulator", "status": "stopped"}}
    d.wait_for(lambda: ask(d, "spare", {"id": 1, "what": "instances"}) == {
        "id": 1, "result": want}, what="instances with their states")
    d.call("stop", id="plc_1")
    d.wait_for(lambda: ask(d, "spare", {"id": 2, "what": "instances"})["result"]["plc_1"][
        "status"] == "stopped", what="the state change told to the broker")
    points = ask(d, "spare", {"id": 3, "what": "datapoints", "prefix": "plc_1.", "limit": 2})
    assert points["id"] == 3 and points["result"]["total"] > 2
    assert len(points["result"]["datapoints"]) == 2
    assert all(p["address"].startswith("plc_1.") and "meta" in p
               for p in points["result"]["datapoints"])


def test_a_query_it_does_not_know_is_malformed_and_unanswered(daemon_factory) -> None:
    d = daemon_factory([sim("plc_1", rate_hz=1)]).start()
    before = d.instance("broker")["bus"].get("malformed", 0)
    assert ask(d, "plc_1x", {"id": 1, "what": "secrets"}) is None
    d.wait_for(lambda: d.instance("broker")["bus"].get("malformed", 0) == before + 1,
               what="the query counted as malformed (next broker heartbeat)")
