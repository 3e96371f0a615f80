"""``subscribed`` of an MQTT link (workers/mqtt/client.py) against a real mosquitto: true
only once the broker acknowledged the subscriptions of the current connection, so a
message published from then on arrives; false again while the broker is away.

``connected`` alone raced in a loaded full run: a test published as soon as the
instance ran, before its SUBSCRIBE reached mosquitto, and the message passed it by.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from edgeos.workers.mqtt.client import MqttLink, Subscription

from tests.integration.mqtt.mosquitto import Mosquitto, Watcher


async def until(pred: Callable[[], object], what: str, timeout: float = 10) -> None:
    """Let the loop run (the link's callbacks hop onto it) until ``pred()`` holds."""
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def test_subscribed_only_once_the_broker_acknowledged(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "mosquitto")
    try:
        asyncio.run(_scenario(broker))
    finally:
        broker.stop()


async def _scenario(broker: Mosquitto) -> None:
    got: list[tuple[str, bytes]] = []
    link = MqttLink({"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 0.1,
                     "reconnect_max_s": 0.2}, client_id="flake7-link",
                    log=logging.getLogger("test.link"),
                    subscriptions=[Subscription("alarms/#", 1)],
                    on_message=lambda topic, raw, _retained: got.append((topic, raw)))
    link.start()  # no broker yet: paho retries
    watcher: Watcher | None = None
    try:
        await until(lambda: link.last_error, "the first failed connect")
        assert not link.connected and link.stats()["subscribed"] is False
        broker.start()
        await until(lambda: link.subscribed, "the SUBACK")
        assert link.stats()["subscribed"] is True and link.connected
        watcher = Watcher(broker.port, ["unrelated"])
        await asyncio.to_thread(watcher.publish, "alarms/door", "1")  # not retained
        await until(lambda: got, "the message")
        assert got == [("alarms/door", b"1")]

        watcher.close()
        watcher = None
        broker.stop()
        await until(lambda: not link.connected, "the outage")
        assert link.subscribed is False
        broker.start()
        await until(lambda: link.subscribed, "the SUBACK after the reconnect")
        assert link.connects == 2
    finally:
        if watcher is not None:
            watcher.close()
        await link.stop()
