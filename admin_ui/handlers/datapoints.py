"""Datapoints: one tree over all instances, search, read and write."""

from __future__ import annotations

from typing import Any

from edgeos.admin_ui.handlers.base import ApiError, ApiHandler

ALL = 1_000_000  # the broker's limit when a level of the tree is grouped here
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
    roles = {"PUT": "operator"}

    async def get(self, address: str) -> None:
        """The last value: value, ts, quality, ack, unit, meta."""
        self.send(await self.rpc("get", address=address))

    async def put(self, address: str) -> None:
        """Send a command (ack false) to a datapoint. A known datapoint must be writable
        (``meta.writable``); the device reports the new value back with ack true."""
        value = self.json_body()["value"]
        try:
            current = await self.rpc("get", address=address)
        except ApiError as exc:
            if exc.status_code != 404:
                raise
            current = None
        if current is not None and not (current.get("meta") or {}).get("writable"):
            raise ApiError(409, f"{address} is read-only", {"meta": current.get("meta")})
        self.send(await self.rpc("set", address=address, value=value))
