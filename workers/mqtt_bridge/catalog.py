"""What the bridge knows of the system: instances (control API ``list``) and the
broker's datapoints with their metadata (broker control ``datapoints``)."""

from __future__ import annotations

from typing import Any

import zmq.asyncio
from edgeos.ipc import addresses
from edgeos.ipc.routing import AddressResolver
from edgeos.ipc.rpc import AsyncRpcClient
from edgeos.workers.mqtt_bridge.discovery import Point

BRIDGE_TYPE = "mqtt_bridge"
POINTS_LIMIT = 1_000_000


class Catalog:
    def __init__(self, ctx: zmq.asyncio.Context, run_dir: str, own_id: str) -> None:
        self.own_id = own_id
        self.control = AsyncRpcClient(ctx, addresses.endpoint(run_dir, addresses.CONTROL), 5)
        self.broker = AsyncRpcClient(ctx, addresses.endpoint(run_dir, addresses.BROKER_CTL), 5)
        self.instances: dict[str, dict[str, Any]] = {}  # id -> {"type", "status"}
        self._resolver = AddressResolver(())

    async def refresh_instances(self) -> None:
        """Re-read the worker instances; raises ``RpcError`` if the supervisor is away."""
        rows = await self.control.call("list")
        self.instances = {r["id"]: {"type": r.get("type", ""), "status": r.get("status")}
                          for r in rows if r.get("role", "worker") == "worker"}
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
            result = await self.broker.call("datapoints", prefix=instance + ".",
                                            limit=POINTS_LIMIT)
            for dp in result["datapoints"]:
                owner, path = self.resolve(dp["address"])
                if owner == instance and path:
                    out[dp["address"]] = Point(dp["address"], owner, path, dp.get("value"),
                                               dp.get("unit"), dict(dp.get("meta") or {}))
        return out

    def close(self) -> None:
        self.control.close()
        self.broker.close()
