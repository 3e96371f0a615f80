"""Self-fencing in the HA state (supervisor/ha_selffence.py): a self-fenced active core
holds its own instances like a standby; the fence is not persisted (a restart starts
unfenced and fences again if still alone)."""

from __future__ import annotations

import json
from pathlib import Path

from edgeos.ipc.ha.state import HaState
from edgeos.supervisor.ha_setup import ha_view
from edgeos.supervisor.process import InstanceConfig


def test_a_self_fenced_core_runs_only_mirror_instances() -> None:
    plc = InstanceConfig(id="plc", type="simulator")
    logic = InstanceConfig(id="logic", type="simulator", mirror=True)
    fenced = HaState(role="primary", fenced="alone for 5 s")
    assert fenced.active and not fenced.actuates
    view = ha_view(fenced, [plc, logic])
    assert [c.enabled for c in view] == [False, True]
    assert ha_view(HaState(role="primary"), [plc]) == [plc]


def test_the_fence_is_not_persisted(tmp_path: Path) -> None:
    HaState(role="active", epoch=3, fenced="alone").save(tmp_path)
    doc = json.loads((tmp_path / "ha.json").read_text())
    assert "fenced" not in doc and "fence_timer" not in doc
    loaded = HaState.load(tmp_path)
    assert loaded is not None and loaded.epoch == 3 and loaded.fenced == ""
