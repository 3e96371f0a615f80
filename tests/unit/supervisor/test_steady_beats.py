"""Steady heartbeats (docs/idle-pacing.md, rounds 8 and 9): a child writes its period's
beat with nothing moved to its beats file, with its send time; the supervisor reads them
at its pass (or a status) instead of waking for each, and the watchdog counts each from
when it was sent, however late it was read. Real files, the fake clock."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from edgeos.ipc.steady_beats import BeatWriter

from tests.unit.supervisor.fake_parts import World, sim
from tests.unit.supervisor.test_idle_pass import started

#: the test's children's writers, by (run dir, id): a child writes its beats in sequence
WRITERS: dict[tuple[Path, str], BeatWriter] = {}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, headless=True)
    yield w
    w.close()
    for key in [k for k in WRITERS if k[0] == w.paths.run]:
        del WRITERS[key]


def send_steady(world: World, iid: str, counters: dict[str, Any], sent: float) -> None:
    """One steady beat of ``iid``, sent at ``sent`` (monotonic s), as its child writes
    it (the last one written is what a read finds)."""
    writer = WRITERS.get((world.paths.run, iid)) or WRITERS.setdefault(
        (world.paths.run, iid), BeatWriter(world.paths.run, iid))
    assert writer.write(counters, sent, pid=world.arbiter.instances[iid].pid)


def read_until(world: World, done: Any) -> None:
    """Read the beats (as a pass does) until ``done()``."""
    end = time.monotonic() + 10
    while not done() and time.monotonic() < end:
        time.sleep(0.01)
        world.arbiter.read_beats()
    assert done()


def test_a_steady_beat_counts_from_when_it_was_sent(world: World) -> None:
    started(world, sim("a"))
    a = world.arbiter.instances["a"]
    world.sys.now = 1000.0
    a.on_heartbeat({})
    world.sys.now = 1010.0  # read 4 s after it was sent (the pass is far)
    send_steady(world, "a", {"pps_out": 6.0}, 1006.0)
    read_until(world, lambda: a.counters == {"pps_out": 6.0})
    assert a.last_heartbeat == 1006.0
    pid = a.pid

    async def main() -> None:  # (a kill arms its timers on the loop)
        world.sys.now = 1020.5  # 14.5 s after the beat, 10.5 s after its reading: alive
        a.check_heartbeat()
        assert (pid, signal.SIGKILL) not in world.sys.signals
        world.sys.now = 1021.0  # 15 s after it was sent: hung, though read only 11 s ago
        a.check_heartbeat()
        assert (pid, signal.SIGKILL) in world.sys.signals
    asyncio.run(main())


def test_a_beat_from_the_future_or_the_past_does_not_fool_the_watchdog(world: World) -> None:
    started(world, sim("a"))
    a = world.arbiter.instances["a"]
    world.sys.now = 1000.0
    send_steady(world, "a", {"pps_out": 1.0}, 5000.0)  # a clock that cannot be
    read_until(world, lambda: a.counters == {"pps_out": 1.0})
    assert a.last_heartbeat == 1000.0
    world.sys.now = 1003.0
    a.on_heartbeat({"pps_out": 9.0})  # a news beat on the worker channel
    send_steady(world, "a", {"pps_out": 2.0}, 1002.0)  # overtaken by it
    send_steady(world, "a", {"pps_out": 3.0}, 1004.0)  # (a marker: read after it)
    world.sys.now = 1005.0
    read_until(world, lambda: a.counters == {"pps_out": 3.0})
    assert a.last_heartbeat == 1004.0


def test_a_beat_overtaken_by_a_news_beat_leaves_the_newer_counters(world: World) -> None:
    started(world, sim("a"))
    a = world.arbiter.instances["a"]
    world.sys.now = 1003.0
    a.on_heartbeat({"pps_out": 9.0})  # news, heard at once
    world.sys.now = 1015.0
    a.on_heartbeat({"pps_out": 6.0}, 1000.0)  # the steady beat before it, read at the pass
    assert a.counters == {"pps_out": 9.0} and a.last_heartbeat == 1003.0


def test_a_status_reads_the_steady_beats_first(world: World) -> None:
    started(world, sim("a"))
    world.sys.now = 1000.0
    world.arbiter.instances["a"].on_heartbeat({})
    world.sys.now = 1009.0
    send_steady(world, "a", {"pps_out": 3.0}, 1008.5)
    end = time.monotonic() + 10
    while (row := world.arbiter.status("a")[0])["pps_out"] != 3.0 and time.monotonic() < end:
        time.sleep(0.01)  # (no read_beats here: the status itself reads them)
    assert row["heartbeat_age_s"] == 0.5 and row["pps_out"] == 3.0


def test_a_beat_read_again_or_of_another_process_changes_nothing(world: World) -> None:
    started(world, sim("a"))
    a = world.arbiter.instances["a"]
    world.sys.now = 1000.0
    a.on_heartbeat({})
    world.sys.now = 1010.0
    send_steady(world, "a", {"pps_out": 1.0}, 1006.0)
    world.arbiter.read_beats()
    assert a.last_heartbeat == 1006.0
    a.on_heartbeat({"pps_out": 2.0})  # news at 1010
    world.arbiter.read_beats()  # the same steady beat again: older than the news
    assert a.counters == {"pps_out": 2.0} and a.last_heartbeat == 1010.0
    old = BeatWriter(world.paths.run, "a")  # a previous process of "a"
    assert old.write({"pps_out": 5.0}, 1011.0, pid=a.pid + 1)
    world.sys.now = 1012.0
    world.arbiter.read_beats()
    assert a.counters == {"pps_out": 2.0} and a.last_heartbeat == 1010.0
