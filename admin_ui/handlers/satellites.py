"""Satellites: the list with link state, backlog, RTT and last seen; trust and revoke."""

from __future__ import annotations

from edgeos.admin_ui.handlers.base import ApiError, ApiHandler

KEY = {"type": "string", "minLength": 40, "maxLength": 40, "description": "Z85 public key"}
SAT_ID = {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,64}$"}
TRUST_BODY = {"type": "object", "additionalProperties": False,
              "description": "{key, id} or {pending: id} (the id a pending key claimed)",
              "properties": {"key": KEY, "id": SAT_ID, "pending": SAT_ID}}
REVOKE_BODY = {"type": "object", "required": ["id"], "additionalProperties": False,
               "properties": {"id": SAT_ID}}


class Satellites(ApiHandler):
    tag = "satellites"

    async def get(self) -> None:
        """Per satellite: id, key, state (connected, offline, pending, revoked), address,
        last_seen, backlog, rtt_ms, delivered, duplicates_dropped."""
        self.send(await self.rpc("satellites"))


class SatelliteAction(ApiHandler):
    tag = "satellites"
    path_params = {"action": {"enum": ["trust", "revoke"]}}
    bodies = {"POST": {"anyOf": [TRUST_BODY, REVOKE_BODY]}}

    async def post(self, action: str) -> None:
        """trust ``{"key", "id"}`` or ``{"pending": id}``; revoke ``{"id"}`` (its link
        closes at once). An id bound to another key is refused (400)."""
        body = self.json_body()
        if action == "revoke":
            if "id" not in body:
                raise ApiError(400, "revoke needs {'id': ...}")
            self.send(await self.rpc("satellites_revoke", id=body["id"]))
            return
        if "pending" not in body and not ("key" in body and "id" in body):
            raise ApiError(400, "trust needs {'key', 'id'} or {'pending': id}")
        self.send(await self.rpc("satellites_trust", key=body.get("key"), id=body.get("id"),
                                 pending=body.get("pending")))
