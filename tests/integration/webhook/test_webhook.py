"""The webhook worker in a real daemon, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.integration.daemon import sim


class Endpoint:
    """A local HTTP server recording every request; ``gate`` holds answers back."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.arrived = 0  # requests read, answered or not
        self.gate = threading.Event()
        self.gate.set()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                endpoint.arrived += 1
                endpoint.gate.wait(30)
                endpoint.requests.append({"method": self.command, "path": self.path,
                                          "headers": dict(self.headers), "body": body})
                self.send_response(204)
                self.end_headers()

            do_POST = do_PUT = do_GET = _handle

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self) -> list[Any]:
        return [json.loads(r["body"]) for r in self.requests]

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def endpoints() -> Iterator[Any]:
    made: list[Endpoint] = []

    def make(port: int = 0) -> Endpoint:
        e = Endpoint(port)
        made.append(e)
        return e

    yield make
    for e in made:
        e.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hook(iid: str, url: str, **config: Any) -> dict[str, Any]:
    return {"id": iid, "type": "webhook", "config": {"url": url, **config}}


def test_routed_values_arrive_with_the_template_body(daemon_factory, endpoints) -> None:
    e = endpoints()
    template = ('{"alarm": "{address}", "from": "{source}", "on": {value}, '
                '"text": "{value_text}", "at": {ts}}')
    d = daemon_factory(
        [sim("plc_1", "plc", rate_hz=5),
         hook("alert_service", f"http://127.0.0.1:{e.port}/hook/{{path}}", body=template,
              headers={"X-Token": "s3cret"}),
         hook("plain", f"http://127.0.0.1:{e.port}/plain")],
        routes=[{"id": "to_hook", "from": "plc_1.MAIN.setpoint",
                 "to": ["alert_service.setpoint", "plain"]}]).start()
    d.call("set", address="plc_1.MAIN.setpoint", value=25)

    def latest(path: str) -> dict[str, Any] | None:
        found = [r for r in e.requests if r["path"] == path
                 and json.loads(r["body"]).get("on" if "hook" in path else "value") == 25.0]
        return found[-1] if found else None

    templated = d.wait_for(lambda: latest("/hook/setpoint"), 10, "templated request")
    assert templated["method"] == "POST"
    assert templated["headers"]["X-Token"] == "s3cret"
    assert templated["headers"]["Content-Type"] == "application/json"
    doc = json.loads(templated["body"])
    assert doc["alarm"] == "alert_service.setpoint" and doc["on"] == 25.0
    assert doc["from"] == "plc_1.MAIN.setpoint"  # where the routed value came from
    assert doc["text"] == "25.0" and doc["at"] > 1_600_000_000_000
    # without a template: {"address", "value", "ts"}; the address is the instance itself
    plain = json.loads(d.wait_for(lambda: latest("/plain"), 10, "plain request")["body"])
    assert set(plain) == {"address", "value", "ts"}
    assert (plain["address"], plain["value"]) == ("plain", 25.0)
    d.wait_for(lambda: d.instance("alert_service")["bus"].get("sent", 0) >= 1, 10, "stats")


def test_server_down_is_retried_until_it_answers(daemon_factory, endpoints) -> None:
    port = free_port()  # nothing listens here yet
    d = daemon_factory([hook("hook", f"http://127.0.0.1:{port}/x", retries=30,
                             backoff_s=0.1, backoff_max_s=0.3, timeout_s=2)]).start()
    d.call("set", address="hook.alarm", value="fire")
    d.wait_for(lambda: d.instance("hook")["bus"].get("retried", 0) >= 3, 10, "retries")
    assert d.instance("hook")["bus"]["sent"] == 0
    assert "Connection refused" in d.instance("hook")["bus"]["last_status"]
    e = endpoints(port)
    d.wait_for(lambda: e.requests, 10, "delivered once the server is up")
    assert e.bodies()[0]["value"] == "fire" and e.bodies()[0]["address"] == "hook.alarm"
    bus = d.wait_for(lambda: (b := d.instance("hook")["bus"])["sent"] == 1 and b, 10, "sent")
    assert bus["failed"] == 0 and bus["dropped"] == 0


def test_full_queue_drops_the_oldest_and_counts_them(daemon_factory, endpoints) -> None:
    e = endpoints()
    e.gate.clear()  # the server takes the first request and holds it
    d = daemon_factory([hook("hook", f"http://127.0.0.1:{e.port}/x", queue_max=3,
                             timeout_s=20)]).start()
    # fire and forget: a waiting set would wait for the held delivery
    d.call("set", address="hook.n", value=0, wait=False)
    d.wait_for(lambda: e.arrived == 1, 10, "first request held by the server")
    for n in range(1, 11):
        d.call("set", address="hook.n", value=n, wait=False)
    bus = d.wait_for(lambda: (b := d.instance("hook")["bus"])["dropped"] == 7 and b, 10,
                     "overflow counted")
    assert bus["queued"] == 3
    e.gate.set()
    d.wait_for(lambda: len(e.requests) == 4, 10, "the rest delivered")
    # in order, and the newest values are the ones kept
    assert [b["value"] for b in e.bodies()] == [0, 8, 9, 10]
    d.wait_for(lambda: d.instance("hook")["bus"]["sent"] == 4, 10, "sent")


def test_a_write_is_confirmed_once_delivered_and_refused_when_delivery_fails(
        daemon_factory, endpoints) -> None:
    e = endpoints()
    d = daemon_factory([hook("hook", f"http://127.0.0.1:{e.port}/x"),
                        hook("dead", "http://127.0.0.1:9/x", retries=0)]).start()
    result = d.call("set", address="hook.alarm", value="fire")
    assert result["outcome"] == "confirmed" and len(e.requests) == 1
    result = d.call("set", address="dead.alarm", value="fire")
    assert (result["outcome"], result["refusal"]) == ("refused", "device_error")
    assert result["reason"].startswith("dead.alarm: POST http://127.0.0.1:9/x: ")
