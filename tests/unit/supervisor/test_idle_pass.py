"""When the arbiter's stats pass runs next (``Arbiter._pass_delay``, docs/idle-pacing.md),
on the fake seam and clock: at idle not before the next full ``figures`` period; the
next whole second when a heartbeat brought news or someone watches ``stats``; never
after a watchdog deadline, also of an instance that turns ready while the pass
sleeps (so a hang is still caught within a second of its deadline)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from edgeos.supervisor.arbiter import STATS_PHASE_S as P
from edgeos.supervisor.figures_pace import PassClock

from tests.unit.supervisor.fake_parts import World, sim


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, headless=True)
    yield w
    w.close()


def started(world: World, *connections: dict) -> None:
    async def main() -> None:
        world.write_connections(*connections)
        await world.arbiter.start(world.arbiter.load())
        for task in list(world.arbiter.tasks):
            task.cancel()
        await asyncio.sleep(0)
    asyncio.run(main())


def beat_all(world: World) -> None:
    for inst in world.arbiter.instances.values():
        inst.on_heartbeat({})


def test_idle_the_pass_waits_for_the_next_full_figures_period(world: World) -> None:
    """Steady beats every 5 s push every deadline ahead: the pass sleeps 15 s."""
    started(world, sim("a"), sim("b"))
    world.sys.now = 1006 + P  # just after a pass (full periods: 1005, 1020, ...)
    beat_all(world)
    assert world.arbiter._pass_delay(watched=False) == pytest.approx(14.0)  # 1020 + P
    world.sys.now = 1011 + P  # the beats of 1011 do not bring the pass forward
    beat_all(world)
    assert world.arbiter._pass_delay(watched=False) == pytest.approx(9.0)


def test_news_or_a_watcher_means_the_next_whole_second(world: World) -> None:
    started(world, sim("a"))
    world.sys.now = 1001 + P
    beat_all(world)
    assert world.arbiter._pass_delay(watched=True) == pytest.approx(1.0)
    world.arbiter.pace.touch("a")
    assert world.arbiter._pass_delay(watched=False) == pytest.approx(1.0)


def test_a_watchdog_deadline_comes_first(world: World) -> None:
    started(world, sim("a"), sim("quiet"))
    world.sys.now = 1010.5
    beat_all(world)
    world.arbiter.instances["quiet"].last_heartbeat = 998.0  # deadline 1013.0
    assert world.arbiter._pass_delay(watched=False) == pytest.approx(2.5 + P)  # 1013 + P


def test_a_short_heartbeat_brings_the_pass_to_its_deadline(world: World) -> None:
    started(world, sim("a"), sim("fast", limits={"heartbeat_s": 1}))
    world.sys.now = 1006 + P
    beat_all(world)  # fast's deadline: 1009 + P, caught by the pass of the next second
    assert world.arbiter._pass_delay(watched=False) == pytest.approx(4.0)


def test_an_instance_that_turns_ready_wakes_the_pass_by_its_deadline(world: World) -> None:
    """The pass sleeps up to a full figures period; a child that turns ready meanwhile
    (its first deadline: READY + 3 x heartbeat_s) must not wait for that period."""
    from edgeos.ipc import protocol

    started(world, sim("a"), sim("late", enabled=False, limits={"heartbeat_s": 1}))
    arbiter = world.arbiter
    late = arbiter.instances["late"]
    world.sys.hang.add("late")  # (no READY of its own: the test sends it)

    async def main() -> None:
        world.sys.now = 1006 + P
        beat_all(world)
        task = asyncio.create_task(arbiter.pass_clock.sleep(arbiter._pass_delay(False)))
        await asyncio.sleep(0)
        assert arbiter.pass_clock.left() == pytest.approx(14.0)
        late.start()
        arbiter._on_message(late, protocol.READY, {"pid": late.pid})
        assert late.state == "running"
        assert arbiter.pass_clock.left() == pytest.approx(4.0)  # 1010 + P
        world.sys.advance(4.0)
        await task

    asyncio.run(main())


def test_the_pass_clock_is_cut_short_by_hurry_and_never_lengthened(world: World) -> None:
    clock = PassClock(world.sys)
    woke: list[float] = []

    async def main() -> None:
        async def sleeper() -> None:
            await clock.sleep(4.0)
            woke.append(world.sys.now)

        task = asyncio.create_task(sleeper())
        await asyncio.sleep(0)
        clock.hurry(lambda now: 10.0)  # later than the sleep's end: ignored
        clock.hurry(lambda now: 1.0)
        world.sys.advance(0.5)
        await asyncio.sleep(0)
        assert not woke
        world.sys.advance(0.5)
        await asyncio.sleep(0)
        await task

    world.sys.now = 1000.0
    asyncio.run(main())
    assert woke == [1001.0]


def test_a_stall_of_the_supervisor_is_not_held_against_the_children(world: World) -> None:
    """Supervisor and child stopped together (SIGSTOP of both, a paused VM): on resume
    the pass is late by the stall, and the child's last beat looks too old. The stall
    is forgiven; a child that really stays silent is still caught after it."""
    started(world, sim("a"))
    a = world.arbiter.instances["a"]
    pid = a.pid

    async def main() -> None:
        world.sys.now = 1000.0
        beat_all(world)
        world.sys.now = 1020.0  # 20 s later: past the 15 s deadline
        world.arbiter.forgive_stall(19.0)
        a.check_heartbeat()
        assert (pid, signal.SIGKILL) not in world.sys.signals, "killed for our stall"
        world.sys.now = 1035.0  # still silent 16 s after the forgiven stall
        a.check_heartbeat()
        assert (pid, signal.SIGKILL) in world.sys.signals, "a silent child is caught"
    asyncio.run(main())


def test_the_figures_passes_read_no_disk_io_a_status_does(world: World) -> None:
    started(world, sim("a"), sim("b"))
    world.sys.proc_reads.clear()
    for n in range(25):  # full passes, and the moved ones between
        world.sys.now = 1000 + n + P
        world.arbiter.figures(None if n % 5 == 0 else {"a"})
    assert world.sys.proc_reads and not any(io for _, io in world.sys.proc_reads)
    world.sys.now += 1
    world.arbiter.status()
    assert any(io for _, io in world.sys.proc_reads)


def test_a_steady_beat_is_no_news_a_moved_one_is(world: World) -> None:
    """A child's once-per-period beat that arrives after the period's full pass (late,
    on a loaded host) must not make a second pass the next second for its row."""
    from edgeos.ipc import protocol

    started(world, sim("a"))
    a = world.arbiter.instances["a"]
    steady = {"pps_in": 0.0, "pps_out": 6.0, "out_total": 600, "error_count": 0}
    world.arbiter._on_message(a, protocol.HEARTBEAT, dict(steady))
    assert world.arbiter.pace.moved == {"a"}  # the first beat: news
    world.arbiter.pace.moved.clear()  # (the pass took it)
    world.arbiter._on_message(a, protocol.HEARTBEAT, {**steady, "pps_out": 6.2,
                                                      "out_total": 630})
    assert not world.arbiter.pace.moved
    world.sys.now = 1001 + P
    assert world.arbiter._pass_delay(watched=False) == pytest.approx(4.0)  # the period's
    world.arbiter._on_message(a, protocol.HEARTBEAT, {**steady, "pps_out": 12.0})
    assert world.arbiter.pace.moved == {"a"}
    world.arbiter.pace.moved.clear()
    # the row carries no error count (an error reaches a live view as an `error` event)
    world.arbiter._on_message(a, protocol.HEARTBEAT, {**steady, "pps_out": 12.0,
                                                      "error_count": 1})
    assert not world.arbiter.pace.moved
    world.arbiter._on_message(a, protocol.HEARTBEAT, {**steady, "pps_in": 3.0})
    assert world.arbiter.pace.moved == {"a"}


def test_a_row_never_says_0_mb_for_a_process_just_read_afresh(world: World) -> None:
    """READY drops an instance's sample (its nice changed); a full figures pass within
    SAMPLE_AGE_S of the last reading must read that process, not write 0 MB into the
    instance history (seen: a memory_mb point of 0 right after a worker started)."""
    started(world, sim("a"), sim("b"))
    for inst in world.arbiter.instances.values():
        world.sys.rss[inst.pid] = 42.0
    world.sys.now = 1000 + P
    world.arbiter.figures(None)
    world.arbiter.samples.pop("b")  # as at STARTING -> RUNNING
    world.sys.now += 0.1  # the last full reading is still fresh
    rows = {row[0]: row for row in world.arbiter.figures(None)}
    assert rows["a"][2] == rows["b"][2] == 42.0
