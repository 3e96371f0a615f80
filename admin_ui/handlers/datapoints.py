"""Datapoints: one tree over all instances, search, read and write."""

from __future__ import annotations

from typing import Any

from edgeos.admin_ui.handlers.base import ApiError, ApiHandler

ALL = 1_000_000  # the broker's limit when a level of the tree is grouped here
WAIT_S, WAIT_MAX_S = 5.0, 60.0  # how long a write waits for the device
# A refused write's HTTP status, by the reason (see edgeos.ipc.protocol.REFUSALS).
REFUSAL_STATUS = {"bad_value": 422, "unknown_datapoint": 404, "read_only": 409,
                  "device_error": 409, "panic": 409, "not_delivered": 409}
WRITE_BODY = {"type": "object", "required": ["value"], "additionalProperties": False,
              "properties": {"value": {"description": "any JSON value"}}}


def tree_level(prefix: str, entries: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """Group the datapoints under ``prefix`` into the next level: child nodes (with the
    number of datapoints below each) and the leaves at this level (at most ``limit``)."""
    children: dict[str, int] = {}
    leaves = []
    for entry in entries:
        rest = entry["address"][len(prefix):]
        head, dot, _ = rest.partition(".")
        if dot:
            children[head] = children.get(head, 0) + 1
        else:
            leaves.append(entry)
    return {"prefix": prefix, "total": len(entries),
            "children": [{"name": name, "prefix": f"{prefix}{name}.", "count": n}
                         for name, n in sorted(children.items())],
            "leaves_total": len(leaves), "datapoints": leaves[:limit]}


class Datapoints(ApiHandler):
    tag = "datapoints"
    query = {"GET": [
        {"name": "prefix", "schema": {"type": "string"},
         "description": "a tree level, ending in '.', e.g. 'bms_001.cells.'; '' is the root"},
        {"name": "q", "schema": {"type": "string"},
         "description": "search: datapoints under the prefix whose address contains q"},
        {"name": "limit", "schema": {"type": "integer", "minimum": 1, "maximum": 10000,
                                     "default": 500}},
    ]}

    async def get(self) -> None:
        """Without ``q``: one level of the tree under ``prefix`` (child nodes with counts,
        leaves with values). With ``q``: a flat search (``total`` and ``datapoints``)."""
        prefix = self.get_query_argument("prefix", "")
        q = self.get_query_argument("q", "")
        limit = self.int_arg("limit", 500, 1, 10_000)
        if q:
            self.send(await self.rpc("datapoints", prefix=prefix, q=q, limit=limit))
            return
        found = await self.rpc("datapoints", prefix=prefix, q="", limit=ALL)
        self.send(tree_level(prefix, found["datapoints"], limit))


class DatapointItem(ApiHandler):
    tag = "datapoints"
    path_params = {"address": {"type": "string",
                               "description": "<instance-id>.<path>, URL-encoded"}}
    bodies = {"PUT": WRITE_BODY}
    query = {"PUT": [
        {"name": "wait", "schema": {"type": "boolean", "default": True},
         "description": "false: send and answer 202 at once (fire and forget)"},
        {"name": "timeout", "schema": {"type": "number", "exclusiveMinimum": 0,
                                       "maximum": WAIT_MAX_S, "default": WAIT_S},
         "description": "seconds to wait for the device to report the value back"},
    ]}
    roles = {"PUT": "operator"}

    async def get(self, address: str) -> None:
        """The last value: value, ts, quality, ack, unit, meta."""
        self.send(await self.rpc("get", address=address))

    async def put(self, address: str) -> None:
        """Write a datapoint (a command, ack false) and wait for the device's answer:
        200 ``confirmed`` (it reported the value back with ack true), 422/404/409
        ``refused`` with ``refusal`` and the reason (bad value, unknown datapoint,
        read-only, device error, panic, not delivered), 504 ``timeout``; with
        ``wait=false`` 202 ``sent``. The worker decides, as for every other writer."""
        value = self.json_body()["value"]
        wait = self.get_query_argument("wait", "true").lower() not in ("false", "0", "no")
        try:
            wait_s = float(self.get_query_argument("timeout", str(WAIT_S)))
        except ValueError:
            raise ApiError(400, "timeout must be a number of seconds") from None
        if not 0 < wait_s <= WAIT_MAX_S:
            raise ApiError(400, f"timeout must be between 0 and {WAIT_MAX_S:g} s")
        result = await self.rpc("set", timeout=wait_s + 10, address=address, value=value,
                                wait=wait, wait_s=wait_s)
        outcome = result["outcome"]
        if outcome == "refused":
            raise ApiError(REFUSAL_STATUS.get(result["refusal"], 409),
                           f"refused: {result['reason']}", result)
        if outcome == "timeout":
            raise ApiError(504, f"timeout: {result['reason']}", result)
        self.send(result, 202 if outcome == "sent" else 200)
