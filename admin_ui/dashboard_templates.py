"""A ready dashboard for one instance, generated from its datapoints and their units.

The generator reads what the instance publishes (addresses, values, units, ``meta``)
rather than a per-model list, so it fits a BMS of any cell count, a SunSpec map with
or without the optional registers, or an M-Bus meter with whatever records it sends.
The instance type only picks the headline gauge and the trend series.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

COLUMNS = 12
MAX_VALUES = 24  # value tiles beyond this are left to the palette
# per type: the paths (relative to the instance) most worth a gauge and a trend, best first
HEADLINES: dict[str, tuple[str, ...]] = {
    "bms": ("soc", "power", "voltage", "current"),
    "modbus": ("inverter.W", "W", "power", "inverter.DCW", "inverter.WH"),
    "mbus": ("power", "flow", "energy", "volume"),
    "simulator": ("soc", "power", "MAIN.fTemp", "flow_temperature", "energy"),
}
GAUGE_RANGES = {"%": (0, 100), "°C": (-20, 80), "V": (0, 60), "Hz": (45, 55)}
SKIP_RE = re.compile(r"(_SF|\.ID|\.L|sunspec\.marker|\.Pad)$")
SERIES_RE = re.compile(r"^(?P<group>.+)\.(?P<n>\d+)$")
ALARM_RE = re.compile(r"alarm|fault|error|warn", re.IGNORECASE)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Placer:
    """Flows tiles left to right over a 12-column grid, a new row when one is full."""

    def __init__(self) -> None:
        self.x = self.y = self.row_h = 0

    def place(self, w: int, h: int) -> dict[str, int]:
        if self.x + w > COLUMNS:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        spot = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        return spot


def series_groups(points: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Numbered numeric siblings (``cells.1`` .. ``cells.16``): three or more make a group."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for path, dp in points.items():
        m = SERIES_RE.match(path)
        if m and is_number(dp.get("value")):
            groups.setdefault(m["group"], []).append((int(m["n"]), path))
    return {g: [p for _, p in sorted(members)] for g, members in groups.items()
            if len(members) >= 3}


def generate(instance: dict[str, Any], datapoints: list[dict[str, Any]],
             ids: str | None = None) -> dict[str, Any]:
    """``{"title", "widgets"}`` for ``instance`` (its connections.json entry) from the
    datapoints it publishes (the broker's ``datapoints`` answer, addresses absolute);
    widget ids are ``<ids>_001``... (default: the instance id)."""
    iid = str(instance["id"])
    kind = str(instance.get("type", ""))
    prefix = f"{iid}."
    points = {dp["address"][len(prefix):]: dp for dp in datapoints
              if dp["address"].startswith(prefix)
              and not SKIP_RE.search(dp["address"])}
    widgets: dict[str, dict[str, Any]] = {}
    spot = Placer()
    slug = re.sub(r"[^A-Za-z0-9_-]", "_", ids or iid)[:56]

    def add(kind_: str, title: str, w: int, h: int, bindings: dict[str, str],
            **options: Any) -> None:
        wid = f"{slug}_{len(widgets) + 1:03d}"
        widgets[wid] = {"type": kind_, "title": title[:200], "layout": spot.place(w, h),
                        "bindings": {k: {"source": v} for k, v in bindings.items()},
                        "options": {k: v for k, v in options.items() if v is not None}}

    add("instance", instance.get("name") or iid, 3, 2, {}, instance=iid)
    headline = [p for p in HEADLINES.get(kind, ()) if p in points and
                is_number(points[p].get("value"))]
    used: set[str] = set()
    if headline:
        path = headline[0]
        unit = points[path].get("unit") or ""
        lo, hi = GAUGE_RANGES.get(unit, (0, max(1.0, abs(points[path]["value"]) * 2)))
        add("gauge", path, 3, 2, {"value": prefix + path}, unit=unit, min=lo, max=hi)
        used.add(path)
    for group, members in series_groups(points).items():
        add("bars", group, 6, 3, {f"v{i}": prefix + p for i, p in enumerate(members, 1)
                                  if i <= 64},
            unit=points[members[0]].get("unit"))
        used.update(members)
    for path, dp in writable(points):
        meta = dp.get("meta") or {}
        if isinstance(dp.get("value"), bool) or meta.get("type") == "bool":
            add("switch", path, 3, 1, {"value": prefix + path})
        else:
            add("setpoint", path, 3, 2, {"value": prefix + path}, unit=dp.get("unit"),
                min=meta.get("min"), max=meta.get("max"), step=meta.get("step"))
        used.add(path)
    alarms = [p for p, dp in points.items()
              if isinstance(dp.get("value"), bool) and ALARM_RE.search(p) and p not in used]
    if alarms:
        add("alarms", "alarms", 3, 2, {f"a{i}": prefix + p for i, p in enumerate(alarms, 1)})
        used.update(alarms)
    values = [p for p, dp in points.items() if p not in used and
              (is_number(dp.get("value")) or isinstance(dp.get("value"), bool))]
    for path in values[:MAX_VALUES]:
        add("value", path, 2, 1, {"value": prefix + path}, unit=points[path].get("unit"),
            stale_s=60)
    # one axis per chart: the trend holds the series that share the first one's unit
    candidates = headline or [p for p in values if is_number(points[p].get("value"))]
    unit = points[candidates[0]].get("unit") if candidates else None
    trend = [p for p in candidates if points[p].get("unit") == unit][:3]
    if trend:
        add("trend", "trend", 12, 3, {f"s{i}": prefix + p for i, p in enumerate(trend, 1)},
            range_s=3600)
    return {"title": instance.get("name") or iid, "widgets": widgets}


def writable(points: dict[str, dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, dp in points.items():
        if (dp.get("meta") or {}).get("writable"):
            yield path, dp
