"""Dashboards: the named tabs of the Dashboards page, each saved with all its widgets at
once, and a ready dashboard generated for an instance (``template``)."""

from __future__ import annotations

from typing import Any

from edgeos.admin_ui import dashboard_templates
from edgeos.admin_ui.handlers.base import ApiError, ApiHandler
from edgeos.admin_ui.handlers.widgets import StoreItem, WidgetsBase
from edgeos.admin_ui.widgets import DASHBOARD_SCHEMA, ID_RE, WidgetStore

TEMPLATE_BODY: dict[str, Any] = {
    "type": "object", "required": ["instance"], "additionalProperties": False,
    "properties": {"instance": {"type": "string", "pattern": ID_RE},
                   "id": {"type": "string", "pattern": ID_RE,
                          "description": "the new dashboard's id (default: the instance id)"}},
}
TEMPLATE_TYPES = ("bms", "modbus", "mbus", "simulator")
MAX_TEMPLATE_POINTS = 5000


class Dashboards(WidgetsBase):
    tag = "widgets"
    bodies = {"POST": {**DASHBOARD_SCHEMA, "required": ["title"]}}

    async def get(self) -> None:
        """Every dashboard (id, title, order, number of widgets), in tab order."""
        boards = self.store_call(self.edge.widgets.dashboards)
        counts: dict[str, int] = {}
        for w in self.store_call(self.edge.widgets.all).values():
            did = w.get("dashboard", "main")
            counts[did] = counts.get(did, 0) + 1
        self.send({"dashboards": sorted(
            ({"id": did, **b, "widgets": counts.get(did, 0)} for did, b in boards.items()),
            key=lambda b: (b.get("order", 0), b["id"]))})

    async def post(self) -> None:
        """Create a dashboard (id from the title when absent; 409 when it exists)."""
        body = self.json_body()
        store = self.edge.widgets
        did = body.get("id") or self.store_call(store.free_dashboard_id, body["title"].lower())
        self.send(self.store_call(store.put_dashboard, did, {**body, "id": did}, True), 201)


class DashboardItem(StoreItem):
    bodies = {"PUT": DASHBOARD_SCHEMA}
    store_get, store_put, store_delete = (staticmethod(WidgetStore.dashboard),
                                          staticmethod(WidgetStore.put_dashboard),
                                          staticmethod(WidgetStore.delete_dashboard))
    counted = "widgets"
    docs = {"get": "One dashboard with its widgets.",
            "put": "Create or replace a dashboard; with ``widgets``, all of its widgets in "
                   "one write.",
            "delete": "Delete a dashboard and its widgets."}


class DashboardTemplate(WidgetsBase):
    tag = "widgets"
    bodies = {"POST": TEMPLATE_BODY}

    async def post(self) -> None:
        """A new dashboard for an instance of type bms, modbus (e.g. a SunSpec inverter),
        mbus or simulator, generated from the datapoints it publishes and their units."""
        body = self.json_body()
        iid = body["instance"]
        doc = await self.rpc("connections")
        entry = next((c for c in doc.get("connections", []) if c.get("id") == iid), None)
        if entry is None:
            raise ApiError(404, f"no instance {iid!r} in connections.json")
        if entry.get("type") not in TEMPLATE_TYPES:
            raise ApiError(400, f"no dashboard template for type {entry.get('type')!r}",
                           {"types": list(TEMPLATE_TYPES)})
        found = await self.rpc("datapoints", prefix=f"{iid}.", q="", limit=MAX_TEMPLATE_POINTS)
        if not found.get("datapoints"):
            raise ApiError(409, f"{iid} has published no datapoints yet: start it and try "
                                "again when its values show on the Datapoints page")
        store = self.edge.widgets
        did = body.get("id") or self.store_call(store.free_dashboard_id, iid)
        made = dashboard_templates.generate(entry, found["datapoints"], ids=did)
        self.send(self.store_call(store.put_dashboard, did, {"id": did, **made}, True), 201)


class Blob(ApiHandler):
    """The bytes of a blob datapoint, for the image widget (``<img src>`` with the
    session cookie): the type from the datapoint's ``meta.mime`` or the bytes' magic."""

    tag = "datapoints"
    path_params = {"address": {"type": "string", "description": "a blob datapoint"}}

    async def get(self, address: str) -> None:
        """The last bytes of a blob datapoint (404 when it has none)."""
        doc = await self.rpc("blob", address=address)
        data = bytes(doc["data"])
        self.set_header("Content-Type", (doc.get("meta") or {}).get("mime") or sniff(data))
        self.set_header("Content-Disposition", "inline")
        self.finish(data)


MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
         (b"GIF8", "image/gif"), (b"RIFF", "image/webp"))


def sniff(data: bytes) -> str:
    """An image type from the first bytes; anything else is served as opaque bytes
    (never as HTML: ``nosniff`` is set on every answer)."""
    return next((mime for magic, mime in MAGIC if data.startswith(magic)),
                "application/octet-stream")
