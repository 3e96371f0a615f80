"""``<config>/widgets.json``: dashboard widgets, written atomically with a backup.

The file is ``{"version": "1.0", "widgets": {"<id>": {type, title, bindings, layout}}}``
(the shape of the planning documents' widget, keyed by id). It is re-read when its
mtime changes, so a hand edit shows up without a restart.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from edgeos.supervisor.files import atomic_write_json

WIDGETS_FILE = "widgets.json"
ID_RE = r"^[A-Za-z0-9_.-]{1,64}$"

WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "id": {"type": "string", "pattern": ID_RE},
        "type": {"type": "string", "minLength": 1, "maxLength": 64,
                 "description": "gauge, value, switch, chart, ..."},
        "title": {"type": "string", "maxLength": 200},
        "bindings": {
            "type": "object",
            "additionalProperties": {
                "type": "object", "required": ["source"],
                "properties": {"source": {"type": "string", "minLength": 1},
                               "type": {"type": "string"}},
            },
        },
        "layout": {
            "type": "object",
            "properties": {k: {"type": "integer", "minimum": 0, "maximum": 10_000}
                           for k in ("x", "y", "w", "h")},
            "additionalProperties": False,
        },
        "options": {"type": "object"},
    },
}

IMPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["widgets"],
    "additionalProperties": False,
    "properties": {
        "version": {"type": "string"},
        "mode": {"enum": ["merge", "replace"], "default": "merge"},
        "widgets": {"type": "object", "propertyNames": {"pattern": ID_RE},
                    "additionalProperties": WIDGET_SCHEMA},
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

    def all(self) -> dict[str, dict[str, Any]]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._widgets = None, {}
            return self._widgets
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise WidgetError(500, f"{WIDGETS_FILE} is not valid JSON: {exc}") from None
            widgets = doc.get("widgets", {}) if isinstance(doc, dict) else {}
            self._widgets, self._stamp = widgets if isinstance(widgets, dict) else {}, stamp
        return self._widgets

    def doc(self) -> dict[str, Any]:
        return {"version": "1.0", "widgets": copy.deepcopy(self.all())}

    def get(self, wid: str) -> dict[str, Any]:
        widget = self.all().get(wid)
        if widget is None:
            raise WidgetError(404, f"no widget {wid!r}")
        return {"id": wid, **widget}

    def _save(self, widgets: dict[str, dict[str, Any]]) -> None:
        atomic_write_json(self.path, {"version": "1.0", "widgets": widgets},
                          backup_dir=self.backup_dir)
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
        incoming = doc["widgets"]
        widgets = {} if doc.get("mode") == "replace" else copy.deepcopy(self.all())
        widgets.update({k: {f: v for f, v in w.items() if f != "id"}
                        for k, w in incoming.items()})
        self._save(widgets)
        return {"imported": sorted(incoming), "total": len(widgets)}

    @staticmethod
    def _next_id(widgets: dict[str, Any]) -> str:
        numbers = [int(m.group(1)) for k in widgets if (m := re.fullmatch(r"widget_(\d+)", k))]
        return f"widget_{max(numbers, default=0) + 1:03d}"
