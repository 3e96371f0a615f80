"""Dashboards in widgets.json (tabs saved whole, export of one, 1.0 files) and the
dashboard generated for an instance from its datapoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from edgeos.admin_ui import dashboard_templates
from edgeos.admin_ui.widgets import WidgetError, WidgetStore


def test_a_dashboard_is_saved_whole_and_exported_alone(tmp_path: Path) -> None:
    store = WidgetStore(tmp_path / "config", tmp_path / "backups")
    store.put_dashboard("home", {"title": "Home", "widgets": {
        "a": {"type": "value", "layout": {"x": 0, "y": 0, "w": 2, "h": 1}},
        "b": {"type": "gauge"}}}, create=True)
    store.put_dashboard("cellar", {"title": "Cellar", "widgets": {"c": {"type": "switch"}}})
    with pytest.raises(WidgetError) as err:
        store.put_dashboard("home", {"title": "again"}, create=True)
    assert err.value.status == 409
    # a layout change of several widgets is one write; the other dashboard is untouched
    store.put_dashboard("home", {"widgets": {"a": {"type": "value", "layout": {"x": 4, "y": 0}}}})
    doc = json.loads((tmp_path / "config" / "widgets.json").read_text())
    assert doc["version"] == "1.1"
    assert doc["dashboards"]["home"]["title"] == "Home"
    assert doc["widgets"] == {
        "a": {"type": "value", "layout": {"x": 4, "y": 0}, "dashboard": "home"},
        "c": {"type": "switch", "dashboard": "cellar"}}
    with pytest.raises(WidgetError) as err:  # widget ids are unique over all dashboards
        store.put_dashboard("home", {"widgets": {"c": {"type": "value"}}})
    assert err.value.status == 409
    one = store.doc("cellar")
    assert set(one["dashboards"]) == {"cellar"} and set(one["widgets"]) == {"c"}
    with pytest.raises(WidgetError):
        store.doc("nope")
    assert store.delete_dashboard("home") == 1
    assert set(store.all()) == {"c"}
    assert store.free_dashboard_id("cellar") == "cellar_2"


def test_a_1_0_file_reads_with_its_widgets_on_main(tmp_path: Path) -> None:
    (tmp_path / "widgets.json").write_text(json.dumps(
        {"version": "1.0", "widgets": {"w": {"type": "value"}}}))
    store = WidgetStore(tmp_path, tmp_path / "b")
    assert store.dashboards() == {"main": {"title": "main", "order": 0}}
    assert store.dashboard("main")["widgets"] == {"w": {"type": "value"}}
    store.import_doc({"widgets": {"x": {"type": "text", "dashboard": "new"}},
                      "dashboards": {"other": {"title": "Other"}}})
    assert set(store.dashboards()) == {"main", "new", "other"}


def test_limits_are_enforced_and_nothing_is_half_written(tmp_path: Path) -> None:
    store = WidgetStore(tmp_path, tmp_path / "b")
    store.put_dashboard("a", {"title": "A"})
    before = (tmp_path / "widgets.json").read_text()
    too_many = {f"w{i}": {"type": "value"} for i in range(2001)}
    with pytest.raises(WidgetError) as err:
        store.put_dashboard("a", {"widgets": too_many})
    assert err.value.status == 413 and "2000" in str(err.value)
    assert (tmp_path / "widgets.json").read_text() == before


def points(iid: str, **values: tuple) -> list[dict]:
    out = []
    for path, spec in values.items():
        value, unit, *meta = spec
        out.append({"address": f"{iid}.{path.replace('__', '.')}", "value": value, "unit": unit,
                    "meta": meta[0] if meta else {}})
    return out


def test_bms_template_has_soc_gauge_cell_bars_setpoint_and_trend() -> None:
    dps = points("bms_1", soc=(55.0, "%"), voltage=(52.1, "V"), current=(3.2, "A"),
                 setpoint=(0.0, None, {"writable": True, "min": 0, "max": 100}),
                 charge_mos=(True, None), alarm_overtemp=(False, None))
    dps += [{"address": f"bms_1.cells.{n}", "value": 3.3, "unit": "V"} for n in range(1, 17)]
    made = dashboard_templates.generate({"id": "bms_1", "type": "bms", "name": "Pack"}, dps)
    widgets = list(made["widgets"].values())
    kinds = [w["type"] for w in widgets]
    assert made["title"] == "Pack"
    assert kinds[0] == "instance" and widgets[0]["options"] == {"instance": "bms_1"}
    gauge = next(w for w in widgets if w["type"] == "gauge")
    assert gauge["bindings"]["value"]["source"] == "bms_1.soc"
    assert (gauge["options"]["min"], gauge["options"]["max"]) == (0, 100)
    bars = next(w for w in widgets if w["type"] == "bars")
    assert [b["source"] for b in bars["bindings"].values()] == [f"bms_1.cells.{n}"
                                                                for n in range(1, 17)]
    setpoint = next(w for w in widgets if w["type"] == "setpoint")
    assert setpoint["options"] == {"min": 0, "max": 100}
    alarm = next(w for w in widgets if w["type"] == "alarms")
    assert alarm["bindings"] == {"a1": {"source": "bms_1.alarm_overtemp"}}
    assert "trend" in kinds
    # no two widgets overlap on the 12-column grid
    cells = set()
    for w in widgets:
        lay = w["layout"]
        assert lay["x"] + lay["w"] <= 12
        spot = {(lay["x"] + i, lay["y"] + j) for i in range(lay["w"]) for j in range(lay["h"])}
        assert not cells & spot
        cells |= spot


def test_sunspec_template_skips_scale_factors_and_gauges_power() -> None:
    dps = points("inv", inverter__W=(4200, "W"), inverter__W_SF=(0, None),
                 inverter__Hz=(50.0, "Hz"), common__Mn=("Fronius", None))
    made = dashboard_templates.generate({"id": "inv", "type": "modbus"}, dps)
    sources = [b["source"] for w in made["widgets"].values() for b in w["bindings"].values()]
    assert "inv.inverter.W_SF" not in sources
    gauge = next(w for w in made["widgets"].values() if w["type"] == "gauge")
    assert gauge["bindings"]["value"]["source"] == "inv.inverter.W"
