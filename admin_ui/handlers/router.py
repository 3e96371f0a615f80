"""Routes: the table in force with counters, edit (validated by the broker), dry run."""

from __future__ import annotations

from typing import Any

from edgeos.admin_ui.handlers.base import LONG_RPC_S, MAX_UPLOAD, ApiError, ApiHandler

ROUTING_DOC: dict[str, Any] = {
    "type": "object",
    "required": ["routes"],
    "properties": {"version": {"type": "string"},
                   "routes": {"type": "array", "items": {"type": "object"}}},
    "description": "a routing.json document (CONTRACT section 5)",
}
TEST_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["address", "value"],
    "additionalProperties": False,
    "properties": {"address": {"type": "string", "minLength": 1}, "value": {},
                   "ack": {"type": "boolean", "default": True,
                           "description": "false: a command travelling back (bidirectional)"}},
}


class Routes(ApiHandler):
    tag = "router"
    bodies = {"PUT": ROUTING_DOC}
    max_body = MAX_UPLOAD

    async def get(self) -> None:
        """The routes in force, per-route counters (fired, suppressed, errors) and
        warnings."""
        self.send(await self.rpc("routes"))

    async def put(self) -> None:
        """Replace routing.json: validated first (400 with file, route id and reason;
        nothing changes), then written atomically with a backup and put in force."""
        self.send(await self.rpc("save_routes", timeout=LONG_RPC_S, doc=self.json_body()))


class Validate(ApiHandler):
    tag = "router"
    roles = {"POST": "viewer"}
    bodies = {"POST": ROUTING_DOC}
    max_body = MAX_UPLOAD

    async def post(self) -> None:
        """Check a routing document against the running instances without applying it:
        ``{"valid", "errors", "warnings"}``."""
        try:
            result = await self.rpc("validate_routes", doc=self.json_body())
        except ApiError as exc:
            if exc.status_code != 400 or exc.detail is None:
                raise
            self.send({"valid": False, "errors": exc.detail, "warnings": []})
            return
        self.send({"valid": True, "errors": [], "warnings": (result or {}).get("warnings", [])})


class RouteTest(ApiHandler):
    tag = "router"
    roles = {"POST": "viewer"}
    bodies = {"POST": TEST_BODY}

    async def post(self) -> None:
        """Dry run: which routes a value on an address fires, each step of the transforms,
        and what every target would get. Changes nothing."""
        body = self.json_body()
        self.send(await self.rpc("route_test", address=body["address"], value=body["value"],
                                 ack=body.get("ack", True)))
