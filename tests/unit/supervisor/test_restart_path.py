"""The restart path on the fake seam (issue 16): a child's exit starts its replacement
in the same callback, whatever the idle pass sleeps on, and a restarted worker's
READY asks for a spare of its type (supervisor/forkserver.py) for the next restart."""

from __future__ import annotations

import asyncio

from edgeos.supervisor.process import State

from tests.unit.supervisor.fake_parts import World, sim


def test_an_exit_spawns_the_replacement_at_once_and_its_ready_asks_for_a_spare(
        world: World) -> None:
    async def scenario() -> None:
        world.write_connections(sim("a"), sim("b"))
        await world.arbiter.start(world.arbiter.load())
        assert world.sys.preforked == ["simulator"]  # the template, at start only
        a = world.arbiter.instances["a"]
        old, now, mark = a.pid, world.sys.now, len(world.journal)
        assert old is not None
        world.sys.exit(old, -9)  # the pidfd callback: no clock moves, no pass runs
        assert world.sys.now == now
        assert a.state == State.STARTING and a.pid not in (None, old)
        assert world.since(mark, "spawn") == [("spawn", "a")]
        assert world.sys.preforked == ["simulator"]  # not on the way to READY
        await asyncio.sleep(0)  # the replacement's READY
        assert a.state == State.RUNNING
        assert world.sys.preforked == ["simulator", "simulator"]  # a spare for the next
        for task in list(world.arbiter.tasks):
            task.cancel()
        await asyncio.sleep(0)

    asyncio.run(scenario())
