"""The HA building blocks on their own: the persisted role and epoch, a satellite's
fence, the instance view of a standby, the satellite's core list and the file watch."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import zmq
from edgeos.common.files import atomic_write_json
from edgeos.ipc.ha.fence import Fence
from edgeos.ipc.ha.state import HaState, HaStateError
from edgeos.ipc.ha.watch import FileWatch
from edgeos.supervisor.ha_setup import core_list, ha_view
from edgeos.supervisor.process import InstanceConfig


def test_state_persists_and_the_epoch_never_goes_down(tmp_path: Path) -> None:
    assert HaState.load(tmp_path) is None
    state = HaState(role="standby", peer="10.0.0.1:50051")
    event = state.change("active", "failover", epoch=2)
    assert event == {"from": "standby", "to": "active", "epoch": 2, "peer": "10.0.0.1:50051",
                     "reason": "failover"}
    state.save(tmp_path)
    state.change("standby", "fenced", epoch=1)  # a lower epoch is never taken
    assert state.epoch == 2
    again = HaState.load(tmp_path)
    assert again is not None and (again.role, again.epoch) == ("active", 2)


@pytest.mark.parametrize("doc, word", [({"role": "boss", "epoch": 1}, "role"),
                                       ({"role": "primary", "epoch": 0}, "epoch"),
                                       ({"role": "primary", "epoch": True}, "epoch"),
                                       ([1], "object"), ("{", "invalid JSON")])
def test_a_bad_state_file_is_named(tmp_path: Path, doc: object, word: str) -> None:
    (tmp_path / "ha.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))
    with pytest.raises(HaStateError, match=word) as info:
        HaState.load(tmp_path)
    assert "ha.json" in str(info.value)


def test_fence_refuses_a_lower_epoch_and_remembers_the_highest(tmp_path: Path) -> None:
    fence = Fence(tmp_path)
    assert fence.see(1) and fence.see(3)
    assert not fence.see(2)
    assert fence.see(3)
    assert Fence(tmp_path).epoch == 3  # survives a restart
    (tmp_path / "fence.json").write_text("not json")
    assert Fence(tmp_path).epoch == 0


def test_a_standby_runs_only_mirror_instances() -> None:
    plc = InstanceConfig(id="plc", type="simulator")
    logic = InstanceConfig(id="logic", type="simulator", mirror=True)
    off = InstanceConfig(id="off", type="simulator", enabled=False, mirror=True)
    view = ha_view(HaState(role="standby"), [plc, logic, off])
    assert [c.enabled for c in view] == [False, True, False]
    assert ha_view(HaState(role="active"), [plc]) == [plc]
    assert ha_view(None, [plc]) == [plc]


def test_core_list_needs_a_key_per_core() -> None:
    k1, k2 = (zmq.curve_keypair()[0].decode() for _ in range(2))
    assert core_list("a:1", None, 50051) == []
    assert core_list("a:1,b", f"{k1},{k2}", 50051) == [["a", 1, k1], ["b", 50051, k2]]
    with pytest.raises(ValueError, match="one key per core"):
        core_list("a,b", k1, 50051)
    with pytest.raises(ValueError, match="#2"):
        core_list("a,b", f"{k1},nope", 50051)


def test_file_watch_sees_an_atomic_replace_and_an_edit(tmp_path: Path) -> None:
    target, other = tmp_path / "routing.json", tmp_path / "other.json"

    async def run() -> list[Path]:
        seen: list[Path] = []
        got = asyncio.Event()

        def changed(path: Path) -> None:
            seen.append(path)
            got.set()

        watch = FileWatch([target], changed)
        watch.start(asyncio.get_running_loop())
        try:
            atomic_write_json(other, {"x": 1})  # not watched
            atomic_write_json(target, {"routes": []})
            await asyncio.wait_for(got.wait(), 5)
            got.clear()
            target.write_text("{}")  # edited in place
            await asyncio.wait_for(got.wait(), 5)
        finally:
            watch.close(asyncio.get_running_loop())
        return seen

    seen = asyncio.run(run())
    assert seen and set(seen) == {target}
