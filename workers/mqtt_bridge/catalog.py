"""What the bridge knows of the system: the instances with their type and state, and
the broker's datapoints with their metadata, both asked of the broker over the
worker's own link (:meth:`edgeos.workers.runtime.Runtime.query`): a worker keeps off
the supervisor's and the broker's control sockets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from edgeos.ipc.routing import AddressResolver
from edgeos.workers.mqtt_bridge.discovery import Point

BRIDGE_TYPE = "mqtt_bridge"
POINTS_LIMIT = 1_000_000


class Catalog:
    def __init__(self, query: Callable[..., Awaitable[Any]], own_id: str) -> None:
        self.own_id = own_id
        self.query = query
        self.instances: dict[str, dict[str, Any]] = {}  # id -> {"type", "status"}
        self._resolver = AddressResolver(())

    async def refresh_instances(self) -> None:
        """Re-read the worker instances; raises ``RpcError`` if the supervisor is away."""
        table = await self.query("instances")
        self.instances = {i: {"type": d["type"], "status": d["status"]}
                          for i, d in table.items() if d.get("status") is not None}
        self._resolver = AddressResolver(self.instances)

    def resolve(self, address: str) -> tuple[str, str]:
        """``(instance, path)``; an address of an unknown instance splits at its first dot."""
        found = self._resolver.resolve(address)
        if found is not None:
            return found
        head, _, rest = address.partition(".")
        return head, rest

    def mirrored(self, instance: str) -> bool:
        """Every instance but the bridge itself and other bridges."""
        info = self.instances.get(instance)
        return instance != self.own_id and (info is None or info["type"] != BRIDGE_TYPE)

    def online(self, instance: str) -> bool:
        info = self.instances.get(instance)
        return info is None or info["status"] == "running"

    def type_of(self, instance: str) -> str:
        info = self.instances.get(instance)
        return info["type"] if info else ""

    async def points(self) -> dict[str, Point]:
        """The broker's datapoints of every mirrored, configured instance."""
        out: dict[str, Point] = {}
        for instance in [i for i in self.instances if self.mirrored(i)]:
            result = await self.query("datapoints", prefix=instance + ".",
                                      limit=POINTS_LIMIT)
            for dp in result["datapoints"]:
                owner, path = self.resolve(dp["address"])
                if owner == instance and path:
                    out[dp["address"]] = Point(dp["address"], owner, path, dp.get("value"),
                                               dp.get("unit"), dict(dp.get("meta") or {}))
        return out
