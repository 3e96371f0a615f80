"""Widgets: CRUD on config/widgets.json, import and export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from edgeos.admin_ui.handlers.base import MAX_UPLOAD, ApiError, ApiHandler
from edgeos.admin_ui.widgets import ID_RE, IMPORT_SCHEMA, WIDGET_SCHEMA, WidgetError, WidgetStore

EDIT_ROLES = frozenset({"admin", "operator"})


class WidgetsBase(ApiHandler):
    """Dashboards and widgets: read by every role, changed by ``operator`` and ``admin``
    (checked here as well, so no role below operator passes whatever the base does)."""

    tag = "widgets"
    roles = {"POST": "operator", "PUT": "operator", "DELETE": "operator"}

    async def prepare(self) -> None:
        await super().prepare()
        method = self.request.method or "GET"
        if (self.role_for(method) == "operator" and self.principal is not None
                and self.principal.role not in EDIT_ROLES):
            raise ApiError(403, f"the {self.principal.role} role may not do this",
                           {"needed": "operator", "have": self.principal.role})
        if method != "GET":  # widgets.json is mirrored to a standby: edited on the active core
            read_only = (await self.rpc("system")).get("config_read_only")
            if read_only:
                raise ApiError(409, read_only)

    def store_call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except WidgetError as exc:
            raise ApiError(exc.status, str(exc)) from None


class Widgets(WidgetsBase):
    bodies = {"POST": WIDGET_SCHEMA}

    async def get(self) -> None:
        """Every widget, keyed by id."""
        self.send(self.store_call(self.edge.widgets.doc))

    async def post(self) -> None:
        """Create a widget (id generated when absent; 409 when it exists)."""
        self.send(self.store_call(self.edge.widgets.create, self.json_body()), 201)


class StoreItem(WidgetsBase):
    """One entry of widgets.json by its id (a widget, a dashboard): GET, PUT and DELETE
    are the three :class:`WidgetStore` methods a subclass names; ``docs`` says what each
    does. DELETE answers ``{"deleted": id}``, with what went along under ``counted``."""

    path_params = {"id": {"type": "string", "pattern": ID_RE}}
    store_get: ClassVar[Callable[[WidgetStore, str], Any]]
    store_put: ClassVar[Callable[[WidgetStore, str, dict[str, Any]], Any]]
    store_delete: ClassVar[Callable[[WidgetStore, str], Any]]
    counted: ClassVar[str | None] = None

    async def get(self, key: str) -> None:
        self.send(self.store_call(self.store_get, self.edge.widgets, key))

    async def put(self, key: str) -> None:
        self.send(self.store_call(self.store_put, self.edge.widgets, key, self.json_body()))

    async def delete(self, key: str) -> None:
        gone = self.store_call(self.store_delete, self.edge.widgets, key)
        self.send({"deleted": key, **({self.counted: gone} if self.counted else {})})


class WidgetItem(StoreItem):
    bodies = {"PUT": WIDGET_SCHEMA}
    store_get, store_put, store_delete = (staticmethod(WidgetStore.get),
                                          staticmethod(WidgetStore.replace),
                                          staticmethod(WidgetStore.delete))
    docs = {"get": "One widget.", "put": "Replace a widget.", "delete": "Delete a widget."}


class WidgetImport(WidgetsBase):
    bodies = {"POST": IMPORT_SCHEMA}
    max_body = MAX_UPLOAD

    async def post(self) -> None:
        """Import widgets: ``mode`` merge (default; same ids are replaced) or replace all."""
        self.send(self.store_call(self.edge.widgets.import_doc, self.json_body()))


class WidgetExport(WidgetsBase):
    query = {"GET": [{"name": "dashboard", "schema": {"type": "string", "pattern": ID_RE},
                      "description": "export this dashboard only (default: all)"}]}

    async def get(self) -> None:
        """The widgets document as a download (the format import takes): every dashboard,
        or the one named by ``dashboard``."""
        did = self.get_query_argument("dashboard", None) or None
        name = f"widgets-{did}.json" if did else "widgets.json"
        doc = self.store_call(self.edge.widgets.doc, did)
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.send(doc)
