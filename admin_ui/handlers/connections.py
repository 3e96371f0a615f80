"""Connections: the entries of connections.json joined with their live status.

Changes go through the supervisor (``connections`` with a ``doc``), which writes the
file atomically with a backup and reloads only what changed. The UI checks an entry
first with the same validation the daemon uses, so a bad form comes back as a 400
listing every problem, and the file is not touched.

Secret config keys (``writeOnly`` in the type's schema) go out as a placeholder for
every role; a write carrying the placeholder keeps the stored secret
(:mod:`edgeos.admin_ui.redact`).
"""

from __future__ import annotations

import copy
from typing import Any

from edgeos.admin_ui import redact
from edgeos.admin_ui.handlers.base import LONG_RPC_S, MAX_UPLOAD, ApiError, ApiHandler
from edgeos.admin_ui.handlers.instances import ID_SCHEMA

ENTRY_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["id", "type"],
    "properties": {"id": ID_SCHEMA, "type": {"type": "string", "minLength": 1},
                   "name": {"type": "string"}, "enabled": {"type": "boolean"},
                   "critical": {"type": "boolean"}, "config": {"type": "object"},
                   "limits": {"type": "object"}, "failsafe": {"type": "object"}},
}


Schemas = dict[str, dict[str, Any]]  # type name -> its config schema


def redacted(entry: dict[str, Any], schemas: Schemas) -> dict[str, Any]:
    """The entry as it may be shown: secrets replaced by the placeholder."""
    if not isinstance(entry.get("config"), dict):
        return entry
    return {**entry, "config": redact.redact(entry["config"],
                                             schemas.get(str(entry.get("type")), {}))}


def with_stored_secrets(entry: dict[str, Any], stored: dict[str, Any] | None,
                        schemas: Schemas) -> dict[str, Any]:
    """The entry with each placeholder replaced by the stored secret (400 when none)."""
    if not isinstance(entry.get("config"), dict):
        return entry
    old = (stored or {}).get("config") if (stored or {}).get("type") == entry["type"] else None
    try:
        config = redact.restore(entry["config"], old or {},
                                schemas.get(str(entry["type"]), {}))
    except redact.PlaceholderError as exc:
        raise ApiError(400, "invalid connection", [f"config.{exc}: the placeholder "
                       f"{redact.PLACEHOLDER!r} stands for a stored secret, but none is "
                       "stored: enter the value"]) from None
    return {**entry, "config": config}


class ConnectionsBase(ApiHandler):
    tag = "connections"

    async def load(self) -> dict[str, Any]:
        doc = await self.rpc("connections")
        doc.setdefault("connections", [])
        return doc

    async def save(self, doc: dict[str, Any]) -> Any:
        """The supervisor validates (with its registry, which knows every installed and
        disabled plugin type) and applies; a refusal comes back as a 400 with the list."""
        return await self.rpc("connections", timeout=LONG_RPC_S, doc=doc)

    async def schemas(self) -> Schemas:
        """Each installed type's config schema, from the supervisor's registry (the UI
        imports no worker package: its secret keys are ``writeOnly`` there)."""
        return {t["name"]: t.get("config_schema", {}) for t in await self.rpc("plugin_list")}

    async def runtime(self) -> dict[str, dict[str, Any]]:
        status = await self.rpc("status")
        return {i["id"]: i for i in status["instances"]}

    @staticmethod
    def find(doc: dict[str, Any], cid: str) -> int:
        for n, entry in enumerate(doc["connections"]):
            if entry.get("id") == cid:
                return n
        raise ApiError(404, f"no connection {cid!r}")


class Connections(ConnectionsBase):
    bodies = {"POST": ENTRY_BODY}
    max_body = MAX_UPLOAD  # a Modbus entry with its register table

    async def get(self) -> None:
        """Every configured connection with its live status (``runtime``: the figures of
        the instance, null while it has never run)."""
        doc, live, schemas = await self.load(), await self.runtime(), await self.schemas()
        self.send({"version": doc.get("version", "1.0"),
                   "connections": [{**redacted(e, schemas), "runtime": live.get(e.get("id"))}
                                   for e in doc["connections"]]})

    async def post(self) -> None:
        """Add a connection (409 if the id exists); it starts when enabled."""
        entry = self.json_body()
        doc = copy.deepcopy(await self.load())
        if any(e.get("id") == entry["id"] for e in doc["connections"]):
            raise ApiError(409, f"a connection {entry['id']!r} exists")
        schemas = await self.schemas()
        doc["connections"].append(with_stored_secrets(entry, None, schemas))
        report = await self.save(doc)
        self.send({"connection": redacted(entry, schemas), "reload": report}, 201)


class ConnectionItem(ConnectionsBase):
    path_params = {"id": ID_SCHEMA}
    bodies = {"PUT": ENTRY_BODY}
    max_body = MAX_UPLOAD

    async def get(self, cid: str) -> None:
        """One connection's entry and live status."""
        doc = await self.load()
        entry = doc["connections"][self.find(doc, cid)]
        self.send({**redacted(entry, await self.schemas()),
                   "runtime": (await self.runtime()).get(cid)})

    async def put(self, cid: str) -> None:
        """Replace a connection's entry (the id must stay); it restarts if it changed."""
        entry = self.json_body()
        if entry["id"] != cid:
            raise ApiError(400, "the id in the body differs from the URL")
        doc = copy.deepcopy(await self.load())
        n = self.find(doc, cid)
        schemas = await self.schemas()
        doc["connections"][n] = with_stored_secrets(entry, doc["connections"][n], schemas)
        self.send({"connection": redacted(entry, schemas), "reload": await self.save(doc)})

    async def delete(self, cid: str) -> None:
        """Remove a connection: its instance is stopped and forgotten."""
        doc = copy.deepcopy(await self.load())
        del doc["connections"][self.find(doc, cid)]
        self.send({"deleted": cid, "reload": await self.save(doc)})


class ConnectionStats(ConnectionsBase):
    path_params = {"id": ID_SCHEMA}

    async def get(self, cid: str) -> None:
        """The live figures of one connection's instance."""
        self.send((await self.rpc("status", id=cid))["instances"][0])


class ConnectionSwitch(ConnectionsBase):
    path_params = {"id": ID_SCHEMA, "action": {"enum": ["connect", "disconnect"]}}

    async def post(self, cid: str, action: str) -> None:
        """disconnect: cut the instance from the router (it keeps running); connect: put
        it back, or start it when it is not running."""
        if action == "disconnect":
            self.send(await self.rpc("disconnect", timeout=LONG_RPC_S, id=cid))
            return
        inst = (await self.rpc("status", id=cid))["instances"][0]
        cmd = "reconnect" if inst["status"] == "disconnected" else "start"
        self.send(await self.rpc(cmd, timeout=LONG_RPC_S, id=cid))
