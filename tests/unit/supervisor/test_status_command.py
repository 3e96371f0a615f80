"""``status ID`` on the fake seam: an id that names no instance is not found, whether
or not the daemon runs a satellite gateway (without one it answered an empty list, so
``edgectl status typo`` printed nothing and exited 0)."""

from __future__ import annotations

import pytest
from edgeos.ipc.rpc import NOT_FOUND, RpcError
from edgeos.supervisor.satellite_commands import RemoteStatus

from tests.unit.supervisor.fake_parts import World, run, sim


def status(world: World, **args: object) -> dict:
    async def main() -> dict:
        world.write_connections(sim("a"))
        await world.arbiter.start(world.arbiter.load())
        return await RemoteStatus(world.arbiter).execute({"id": None, **args})
    return run(world, main)


def test_an_unknown_id_is_not_found_without_a_gateway(world: World) -> None:
    with pytest.raises(RpcError) as raised:
        status(world, id="nosuch")
    assert (raised.value.code, str(raised.value)) == (NOT_FOUND, "no instance 'nosuch'")


def test_one_instance_or_all_with_the_same_summary(world: World) -> None:
    one = status(world, id="a")
    assert [row["id"] for row in one["instances"]] == ["a"]
    every = status(world)
    assert "a" in [row["id"] for row in every["instances"]]
    assert one.keys() == every.keys() >= {"mode", "performance", "panic", "instances"}
