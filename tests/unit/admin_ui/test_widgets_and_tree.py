"""The widgets file and the datapoint tree grouping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from edgeos.admin_ui.handlers.datapoints import tree_level
from edgeos.admin_ui.widgets import WidgetError, WidgetStore


def test_widget_store_writes_atomically_with_backups(tmp_path: Path) -> None:
    store = WidgetStore(tmp_path / "config", tmp_path / "backups")
    a = store.create({"type": "gauge", "title": "A"})
    b = store.create({"type": "value"})
    assert (a["id"], b["id"]) == ("widget_001", "widget_002")
    store.replace("widget_001", {"type": "gauge", "title": "A2"})
    doc = json.loads((tmp_path / "config" / "widgets.json").read_text())
    assert doc == {"version": "1.1", "dashboards": {},
                   "widgets": {"widget_001": {"type": "gauge", "title": "A2"},
                               "widget_002": {"type": "value"}}}
    assert len(list((tmp_path / "backups").glob("widgets.json.*"))) == 2
    with pytest.raises(WidgetError) as err:
        store.create({"id": "widget_001", "type": "x"})
    assert err.value.status == 409
    with pytest.raises(WidgetError):
        store.replace("widget_001", {"id": "other", "type": "x"})
    store.delete("widget_002")
    with pytest.raises(WidgetError) as err:
        store.get("widget_002")
    assert err.value.status == 404


def test_hand_edits_are_seen_and_broken_files_reported(tmp_path: Path) -> None:
    store = WidgetStore(tmp_path, tmp_path / "b")
    (tmp_path / "widgets.json").write_text(json.dumps({"widgets": {"w": {"type": "x"}}}))
    assert store.get("w") == {"id": "w", "type": "x"}
    (tmp_path / "widgets.json").write_text("{oops")
    with pytest.raises(WidgetError) as err:
        store.all()
    assert err.value.status == 500


def test_import_merges_or_replaces(tmp_path: Path) -> None:
    store = WidgetStore(tmp_path, tmp_path / "b")
    store.create({"id": "keep", "type": "x"})
    store.import_doc({"widgets": {"new": {"type": "y"}}})
    assert set(store.all()) == {"keep", "new"}
    store.import_doc({"widgets": {"only": {"type": "z"}}, "mode": "replace"})
    assert set(store.all()) == {"only"}


def entries(*addresses: str) -> list[dict]:
    return [{"address": a, "value": 1} for a in addresses]


def test_tree_level_groups_children_and_leaves() -> None:
    dps = entries("bms.cells.1", "bms.cells.2", "bms.soc", "bms.temperatures.1", "bms.voltage")
    level = tree_level("bms.", dps, limit=1)
    assert level["children"] == [{"name": "cells", "prefix": "bms.cells.", "count": 2},
                                 {"name": "temperatures", "prefix": "bms.temperatures.",
                                  "count": 1}]
    assert level["leaves_total"] == 2 and [d["address"] for d in level["datapoints"]] == [
        "bms.soc"]
    root = tree_level("", entries("a.x", "b.y.z", "c"), limit=10)
    assert [c["name"] for c in root["children"]] == ["a", "b"]
    assert [d["address"] for d in root["datapoints"]] == ["c"]
