"""edgeos.json → history: defaults, and bad settings refused with the field named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from edgeos.ipc.historian.settings import Settings
from edgeos.supervisor.config import ConfigError, load_settings


def write(tmp_path: Path, history: object) -> Path:
    (tmp_path / "edgeos.json").write_text(json.dumps({"history": history}))
    return tmp_path


def test_defaults_are_the_documented_ones() -> None:
    s = Settings.from_dict({})
    assert (s.record, s.min_interval_s, s.deadband, s.raw_days, s.rollup_days, s.rollup_s,
            s.max_mb) == ("numeric", 1.0, 0.0, 7.0, 365.0, 60, 1024.0)
    assert s.stat_raw_keep_ms == 3_600_000 and s.stat_rollup_keep_ms == 7 * 86_400_000


def test_valid_settings_reach_the_supervisor(tmp_path: Path) -> None:
    doc = {"min_interval_s": 0.5, "points": [{"match": "bms_001.cells.*", "deadband": 0.002}],
           "max_mb": 50, "instances": {"raw_hours": 2}}
    assert load_settings(write(tmp_path, doc)).history == doc


@pytest.mark.parametrize(("history", "named"), [
    ({"points": [{"match": "plc.te*mp"}]}, "history.points[0].match"),
    ({"max_mb": -1}, "history.max_mb"),
    ({"raw_days": 0}, "history.raw_days"),
    ({"record": "everything"}, "history.record"),
    ({"points": [{"match": "x", "deadbnad": 1}]}, "history.points[0]"),
    ({"points": [{"match": "x"}] * 1001}, "history.points"),
])
def test_bad_settings_are_refused_naming_the_field(tmp_path: Path, history: object,
                                                   named: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, history))
    assert any(named in line and line.startswith("edgeos.json") for line in err.value.errors), \
        err.value.errors
