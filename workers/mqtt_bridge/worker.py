"""The MQTT bridge: every datapoint mirrored to MQTT, writes back in, HA discovery."""

from __future__ import annotations

import asyncio
import json
import random
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from edgeos.ipc.changes import ChangeFeed
from edgeos.ipc.rpc import RpcError
from edgeos.workers.mqtt import payload as payloads
from edgeos.workers.mqtt.client import MqttLink, Subscription, default_client_id
from edgeos.workers.mqtt_bridge import discovery
from edgeos.workers.mqtt_bridge.catalog import Catalog
from edgeos.workers.mqtt_bridge.discovery import Point, Settings
from edgeos.workers.mqtt_bridge.ledger import Ledger
from edgeos.workers.mqtt_bridge.mirror import StateMirror
from edgeos.workers.mqtt_bridge.outbox import Outbox
from edgeos.workers.mqtt_bridge.queue import Message, OfflineQueue
from edgeos.workers.mqtt_bridge.topics import SET_SUFFIX, Topics
from edgeos.workers.runtime import Worker

INSTANCES_EVERY_S = 2.0  # instance states -> availability topics
POINTS_EVERY_S = 15.0  # datapoint metadata -> discovery (sooner when new points appear)
NEW_POINTS_DEBOUNCE_S = 0.3


def _version() -> str:
    try:
        return version("smarthome-edge-os")
    except PackageNotFoundError:
        return "0"


class MqttBridgeWorker(Worker):
    """Mirrors all instances (but bridges) to ``<prefix>/<instance>/<path>``."""

    type_name = "mqtt_bridge"

    async def setup(self) -> None:
        c = self.config
        self.topics = Topics(c["prefix"])
        self.heartbeat_s = float(c["heartbeat_s"])
        self.discovery_on = bool(c["discovery"])
        self.discovery_prefix = str(c["discovery_prefix"]).strip("/")
        self.jitter_s = float(c["discovery_jitter_s"])
        self.allow_set = bool(c["allow_set"])
        # an mqtt instance subscribed to our own topics on the same broker would otherwise
        # be mirrored into ever longer topics, without end
        self.echoes = (self.topics.prefix + "/", self.discovery_prefix + "/")
        self.settings = Settings(self.topics, self.discovery_prefix, c["payload"],
                                 self.heartbeat_s,
                                 {"name": discovery.MANUFACTURER, "sw_version": _version()})
        store = Path(self.spec.data_dir) / "mqtt_bridge"
        self.queue = OfflineQueue(store / f"{self.id}.db", int(c["queue_max"]))
        await self.queue.open()
        self.ledger = Ledger(store / f"{self.id}.discovery.json")
        self.announced = self.ledger.load()
        self.catalog = Catalog(self.runtime.query, self.id)
        self.mirror = StateMirror(self.topics, self.settings.payload, self.heartbeat_s)
        self.points: dict[str, Point] | None = None  # None until first read from the broker
        # instances whose availability we published, before a restart too ("" = unknown)
        self.availability: dict[str, str] = dict.fromkeys(self.announced.instances, "")
        self._points_due = asyncio.Event()
        self._points_due.set()  # read the broker's datapoints right away
        self._tasks: set[asyncio.Task[None]] = set()
        self._asked: set[str] = set()
        self._rediscovery: asyncio.Task[None] | None = None
        self.writes = 0
        self.writes_refused = 0
        # Writes the target device refused, per target instance (bounded by the config).
        self.refused_by_instance: dict[str, int] = {}
        subs = [Subscription(self.topics.everything, 1, no_local=True, skip_retained=True)]
        if self.discovery_on:
            subs.append(Subscription(f"{self.discovery_prefix}/status", 1))
        self.link = MqttLink(
            c, client_id=c.get("client_id") or default_client_id(self.id), log=self.log,
            subscriptions=subs, on_message=self._on_message, on_state=self._on_state,
            on_ack=self._on_ack, will=(self.topics.availability, b"offline"),
            birth=(self.topics.availability, b"online"), default_protocol="5")
        self.outbox = Outbox(self.link, self.queue, self.log)

    async def run(self) -> None:
        feed = ChangeFeed(self.runtime.ctx, self.spec.run_dir)
        try:
            await self._first_catalog()
            self.link.start()
            await asyncio.gather(self.outbox.run(), self._mirror(feed),
                                 self._watch_instances(), self._watch_points(),
                                 self._heartbeat())
        finally:
            feed.close()

    async def teardown(self) -> None:
        await self.outbox.settle(0.8)
        await self.link.stop(farewell=(self.topics.availability, b"offline"))
        await self.queue.close()

    # -- datapoints -> MQTT ----------------------------------------------------------
    async def _first_catalog(self) -> None:
        """Know the instances (and so which are bridges) before mirroring anything."""
        while True:
            try:
                await self.catalog.refresh_instances()
                return
            except RpcError as exc:
                self.log.info("waiting for the supervisor: %s", exc)
                await asyncio.sleep(0.5)

    async def _mirror(self, feed: ChangeFeed) -> None:
        echoes = self.echoes
        async for batch in feed.batches():
            now = time.monotonic()
            out = []
            for address, value, ts, quality, *_ in batch:
                instance, path = self.catalog.resolve(address)
                if not path or not self.catalog.mirrored(instance) or path.startswith(echoes):
                    continue
                message = self.mirror.update(address, instance, path, value, ts, quality, now)
                if message is not None:
                    out.append(message)
                if self.discovery_on and address not in self._asked and (
                        self.points is None or address not in self.points):
                    self._asked.add(address)
                    self._points_due.set()
            self.outbox.put(out)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(max(self.heartbeat_s / 4, 0.2))
            self.outbox.put(self.mirror.due(time.monotonic(), self.catalog.online))

    # -- instances -> availability ---------------------------------------------------
    async def _watch_instances(self) -> None:
        while True:
            await asyncio.sleep(INSTANCES_EVERY_S)
            known = set(self.catalog.instances)
            try:
                await self.catalog.refresh_instances()
            except RpcError as exc:
                self.log.debug("instance list unavailable: %s", exc)
                continue
            self.outbox.put(self._availability_changes())
            await self.ledger.save(self.announced)
            if set(self.catalog.instances) != known:
                self._points_due.set()

    def _availability_changes(self, everything: bool = False) -> list[Message]:
        out = []
        current = {i: "online" if self.catalog.online(i) else "offline"
                   for i in self.catalog.instances if self.catalog.mirrored(i)}
        for instance, state in current.items():
            if everything or self.availability.get(instance) != state:
                out.append(Message(self.topics.instance_availability(instance), state.encode()))
        for instance in self.availability.keys() - current.keys():  # removed from the config
            out.append(Message(self.topics.instance_availability(instance), b""))
            out.extend(self.mirror.forget_instance(instance))
        self.availability = current
        self.announced.instances = set(current)
        return out

    # -- metadata -> Home Assistant discovery ----------------------------------------
    async def _watch_points(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._points_due.wait(), POINTS_EVERY_S)
                await asyncio.sleep(NEW_POINTS_DEBOUNCE_S)
            except TimeoutError:
                pass
            self._points_due.clear()
            try:
                self.points = await self.catalog.points()
            except RpcError as exc:
                self.log.debug("datapoints unavailable: %s", exc)
                continue
            self._asked -= self.points.keys()  # the rest belong to no configured instance
            if self.discovery_on:
                await self._announce()

    async def _announce(self, everything: bool = False) -> None:
        """Publish new and changed configs, clear those of vanished datapoints."""
        if self.points is None:
            return
        wanted: dict[str, str] = {}
        for point in self.points.values():
            if point.path.startswith(self.echoes):
                continue
            found = discovery.entity(self.settings, point, self.catalog.type_of(point.instance))
            if found is not None:
                wanted[found[0]] = json.dumps(found[1], sort_keys=True, ensure_ascii=False)
        before = self.announced.configs
        out = [Message(topic, body.encode()) for topic, body in wanted.items()
               if everything or before.get(topic) != body]
        out += [Message(topic, b"") for topic in before.keys() - wanted.keys()]
        self.announced.configs = wanted
        self.outbox.put(out)
        await self.ledger.save(self.announced)

    def _birth(self) -> None:
        """Home Assistant came (back) online: announce everything again, after a jitter
        so that many gateways do not answer the same birth message at once."""
        if self._rediscovery is not None:
            self._rediscovery.cancel()

        async def later() -> None:
            await asyncio.sleep(random.uniform(0, self.jitter_s))
            await self._announce(everything=True)

        self._rediscovery = asyncio.create_task(later())

    # -- MQTT -> commands ------------------------------------------------------------
    def _on_message(self, topic: str, raw: bytes, retained: bool) -> None:
        if topic == f"{self.discovery_prefix}/status":
            if raw.strip().lower() == b"online" and self.discovery_on:
                self._birth()
            return
        if not topic.endswith(SET_SUFFIX) or self.mirror.address_for(topic) is not None:
            return  # our own state topics (MQTT 3.1.1 has no no-local subscriptions)
        if retained or not self.allow_set:
            self.writes_refused += 1  # a retained write would replay on every reconnect
            return
        address = self._address_of(topic[: -len(SET_SUFFIX)])
        if address is None:
            self.writes_refused += 1
            self.count_error(f"write to {topic}: no such datapoint")
            return
        value = payloads.decode(raw)
        if isinstance(value, dict) and "value" in value:
            value = value["value"]
        self.runtime.send_commands([(address, value)])
        self.writes += 1

    def on_write_refused(self, address: str, refusal: str, message: str) -> None:
        """A write that came in over MQTT was refused by its device (or never reached
        it): counted per target instance, and the reason kept as the last error."""
        self.writes_refused += 1
        instance = address.partition(".")[0]
        if instance in self.refused_by_instance or len(self.refused_by_instance) < 1000:
            self.refused_by_instance[instance] = self.refused_by_instance.get(instance, 0) + 1
        self.count_error(f"write to {address} refused ({refusal}): {message}")

    def _address_of(self, state_topic: str) -> str | None:
        address = self.mirror.address_for(state_topic)
        if address is not None:
            return address
        target = self.topics.set_target(state_topic + SET_SUFFIX)
        if target is None or target[0] not in self.catalog.instances:
            return None
        if not self.catalog.mirrored(target[0]):
            return None
        return f"{target[0]}.{target[1]}"

    def _on_state(self, connected: bool, reason: str) -> None:
        self.outbox.connection_changed(connected)
        if not connected:
            self.count_error(f"mqtt://{self.link.host}:{self.link.port} {reason}")
            return
        # the broker may have lost its retained messages (restart without persistence)
        resync = self._availability_changes(everything=True) + self.mirror.snapshot()
        self.outbox.put(resync)
        if self.discovery_on:
            task = asyncio.create_task(self._announce(everything=True))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _on_ack(self, mid: int, ok: bool) -> None:
        self.outbox.acked(mid, ok)

    def stats(self) -> dict[str, Any]:
        return {**self.link.stats(), **self.outbox.stats(), "mirrored": len(self.mirror.states),
                "entities": len(self.announced.configs), "writes": self.writes,
                "writes_refused": self.writes_refused,
                "writes_refused_by_instance": dict(self.refused_by_instance),
                "last_error": self.link.last_error}
