"""``<config>/widgets.json``: dashboards and their widgets, written atomically with a backup.

The file is ``{"version": "1.1", "dashboards": {"<id>": {title, order}}, "widgets":
{"<id>": {type, title, dashboard, bindings, layout, options}}}`` (the planning
documents' widget, keyed by id, plus the dashboard (tab) it sits on). A 1.0 file
(no dashboards) still reads: its widgets belong to the dashboard ``main``. It is
re-read when its mtime changes, so a hand edit shows up without a restart.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from edgeos.common.files import atomic_write_json

WIDGETS_FILE = "widgets.json"
FILE_VERSION = "1.1"
ID_RE = r"^[A-Za-z0-9_.-]{1,64}$"
DEFAULT_DASHBOARD = "main"
MAX_WIDGETS = 2000  # over all dashboards
MAX_DASHBOARDS = 100
MAX_BINDINGS = 64  # e.g. the 16 cells of a BMS, a trend of a few series

WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "id": {"type": "string", "pattern": ID_RE},
        "type": {"type": "string", "minLength": 1, "maxLength": 64,
                 "description": "gauge, value, switch, chart, ..."},
        "title": {"type": "string", "maxLength": 200},
        "dashboard": {"type": "string", "pattern": ID_RE},
        "bindings": {
            "type": "object", "maxProperties": MAX_BINDINGS,
            "additionalProperties": {
                "type": "object", "required": ["source"],
                "properties": {"source": {"type": "string", "minLength": 1,
                                          "maxLength": 512},
                               "type": {"type": "string", "maxLength": 64}},
            },
        },
        "layout": {
            "type": "object",
            "properties": {k: {"type": "integer", "minimum": 0, "maximum": 10_000}
                           for k in ("x", "y", "w", "h")},
            "additionalProperties": False,
        },
        "options": {"type": "object", "maxProperties": 64,
                    "description": "per kind: unit, min, max, step, stale_s, range_s, ..."},
    },
}

DASHBOARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": ID_RE},
        "title": {"type": "string", "minLength": 1, "maxLength": 100},
        "order": {"type": "integer", "minimum": 0, "maximum": 10_000},
        "widgets": {"type": "object", "maxProperties": MAX_WIDGETS,
                    "propertyNames": {"pattern": ID_RE},
                    "additionalProperties": WIDGET_SCHEMA,
                    "description": "the dashboard's widgets, keyed by id (PUT replaces them all)"},
    },
}

IMPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["widgets"],
    "additionalProperties": False,
    "properties": {
        "version": {"type": "string"},
        "mode": {"enum": ["merge", "replace"], "default": "merge"},
        "dashboards": {"type": "object", "maxProperties": MAX_DASHBOARDS,
                       "propertyNames": {"pattern": ID_RE},
                       "additionalProperties": {
                           "type": "object", "additionalProperties": False,
                           "properties": {"title": DASHBOARD_SCHEMA["properties"]["title"],
                                          "order": DASHBOARD_SCHEMA["properties"]["order"]}}},
        "widgets": {"type": "object", "propertyNames": {"pattern": ID_RE},
                    "maxProperties": MAX_WIDGETS, "additionalProperties": WIDGET_SCHEMA},
    },
}


class WidgetError(Exception):
    """Refused: ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class WidgetStore:
    def __init__(self, config_dir: Path, backup_dir: Path) -> None:
        self.path = Path(config_dir) / WIDGETS_FILE
        self.backup_dir = backup_dir
        self._stamp: tuple[int, int] | None = None
        self._widgets: dict[str, dict[str, Any]] = {}
        self._dashboards: dict[str, dict[str, Any]] = {}

    def _load(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._widgets, self._dashboards = None, {}, {}
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise WidgetError(500, f"{WIDGETS_FILE} is not valid JSON: {exc}") from None
        doc = doc if isinstance(doc, dict) else {}
        widgets, boards = doc.get("widgets", {}), doc.get("dashboards", {})
        self._widgets = widgets if isinstance(widgets, dict) else {}
        self._dashboards = boards if isinstance(boards, dict) else {}
        self._stamp = stamp

    def all(self) -> dict[str, dict[str, Any]]:
        self._load()
        return self._widgets

    def dashboards(self) -> dict[str, dict[str, Any]]:
        """Every dashboard, those only named by a widget (a 1.0 file) included."""
        self._load()
        boards = {did: {"title": did, "order": 0} for did in
                  {w.get("dashboard", DEFAULT_DASHBOARD) for w in self._widgets.values()}}
        boards.update(copy.deepcopy(self._dashboards))
        return boards

    def doc(self, dashboard: str | None = None) -> dict[str, Any]:
        """The file's document; with ``dashboard``, that one only (404 when unknown)."""
        boards = self.dashboards()
        widgets = copy.deepcopy(self.all())
        if dashboard is not None:
            if dashboard not in boards:
                raise WidgetError(404, f"no dashboard {dashboard!r}")
            boards = {dashboard: boards[dashboard]}
            widgets = {k: w for k, w in widgets.items()
                       if w.get("dashboard", DEFAULT_DASHBOARD) == dashboard}
        return {"version": FILE_VERSION, "dashboards": boards, "widgets": widgets}

    def get(self, wid: str) -> dict[str, Any]:
        widget = self.all().get(wid)
        if widget is None:
            raise WidgetError(404, f"no widget {wid!r}")
        return {"id": wid, **widget}

    def _save(self, widgets: dict[str, dict[str, Any]],
              dashboards: dict[str, dict[str, Any]] | None = None) -> None:
        boards = self._dashboards if dashboards is None else dashboards
        if len(widgets) > MAX_WIDGETS:
            raise WidgetError(413, f"at most {MAX_WIDGETS} widgets ({len(widgets)} asked)")
        if len(boards) > MAX_DASHBOARDS:
            raise WidgetError(413, f"at most {MAX_DASHBOARDS} dashboards ({len(boards)} asked)")
        atomic_write_json(self.path, {"version": FILE_VERSION, "dashboards": boards,
                                      "widgets": widgets}, backup_dir=self.backup_dir)
        self._stamp = None

    def create(self, widget: dict[str, Any]) -> dict[str, Any]:
        widgets = copy.deepcopy(self.all())
        body = {k: v for k, v in widget.items() if k != "id"}
        wid = widget.get("id") or self._next_id(widgets)
        if wid in widgets:
            raise WidgetError(409, f"a widget {wid!r} exists")
        widgets[wid] = body
        self._save(widgets)
        return {"id": wid, **body}

    def replace(self, wid: str, widget: dict[str, Any]) -> dict[str, Any]:
        widgets = copy.deepcopy(self.all())
        if wid not in widgets:
            raise WidgetError(404, f"no widget {wid!r}")
        if widget.get("id", wid) != wid:
            raise WidgetError(400, "the id in the body differs from the URL")
        widgets[wid] = {k: v for k, v in widget.items() if k != "id"}
        self._save(widgets)
        return {"id": wid, **widgets[wid]}

    def delete(self, wid: str) -> None:
        widgets = copy.deepcopy(self.all())
        if widgets.pop(wid, None) is None:
            raise WidgetError(404, f"no widget {wid!r}")
        self._save(widgets)

    def import_doc(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Merge (same ids replaced) or replace everything; the dashboards the imported
        widgets name are created (titled by their id) when the document lacks them."""
        incoming = doc["widgets"]
        replace = doc.get("mode") == "replace"
        widgets = {} if replace else copy.deepcopy(self.all())
        boards = {} if replace else copy.deepcopy(self._dashboards)
        widgets.update({k: {f: v for f, v in w.items() if f != "id"}
                        for k, w in incoming.items()})
        boards.update(copy.deepcopy(doc.get("dashboards") or {}))
        for w in incoming.values():
            boards.setdefault(w.get("dashboard", DEFAULT_DASHBOARD),
                              {"title": w.get("dashboard", DEFAULT_DASHBOARD)})
        self._save(widgets, boards)
        return {"imported": sorted(incoming), "dashboards": sorted(doc.get("dashboards") or {}),
                "total": len(widgets)}

    # -- dashboards ----------------------------------------------------------------
    def dashboard(self, did: str) -> dict[str, Any]:
        doc = self.doc(did)
        return {"id": did, **doc["dashboards"][did], "widgets": doc["widgets"]}

    def put_dashboard(self, did: str, body: dict[str, Any], create: bool = False) -> dict[str, Any]:
        """Create or replace one dashboard: its title and order, and (when the body has
        ``widgets``) all of its widgets at once, so an editor saves a layout change of
        many widgets in one atomic write. Widget ids are unique over all dashboards."""
        if body.get("id", did) != did:
            raise WidgetError(400, "the id in the body differs from the URL")
        boards = self.dashboards()
        if create and did in boards:
            raise WidgetError(409, f"a dashboard {did!r} exists")
        widgets = copy.deepcopy(self.all())
        old = boards.get(did, {})
        boards[did] = {"title": body.get("title", old.get("title", did)),
                       "order": body.get("order", old.get("order", len(boards)))}
        if "widgets" in body:
            clash = sorted(k for k, w in widgets.items() if k in body["widgets"]
                           and w.get("dashboard", DEFAULT_DASHBOARD) != did)
            if clash:
                raise WidgetError(409, f"widget ids used on another dashboard: {clash[:10]}")
            widgets = {k: w for k, w in widgets.items()
                       if w.get("dashboard", DEFAULT_DASHBOARD) != did}
            widgets.update({k: {**{f: v for f, v in w.items() if f != "id"}, "dashboard": did}
                            for k, w in body["widgets"].items()})
        self._save(widgets, boards)
        return self.dashboard(did)

    def delete_dashboard(self, did: str) -> int:
        """Remove a dashboard and its widgets; returns how many widgets went with it."""
        boards = self.dashboards()
        if did not in boards:
            raise WidgetError(404, f"no dashboard {did!r}")
        del boards[did]
        widgets = {k: w for k, w in self.all().items()
                   if w.get("dashboard", DEFAULT_DASHBOARD) != did}
        gone = len(self.all()) - len(widgets)
        self._save(copy.deepcopy(widgets), boards)
        return gone

    def free_dashboard_id(self, base: str) -> str:
        """``base``, or ``base_2``, ``base_3``... whichever is not taken."""
        boards = self.dashboards()
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", base)[:56] or "dashboard"
        n, did = 1, base
        while did in boards:
            n += 1
            did = f"{base}_{n}"
        return did

    @staticmethod
    def _next_id(widgets: dict[str, Any]) -> str:
        numbers = [int(m.group(1)) for k in widgets if (m := re.fullmatch(r"widget_(\d+)", k))]
        return f"widget_{max(numbers, default=0) + 1:03d}"
