"""The arbiter on the fake seam (issue 14 item 5): reload diff, panic ordering, spawn
failures, waiters and background tasks, with no process, socket or daemon."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from edgeos.ipc.rpc import BAD_REQUEST, RpcError
from edgeos.supervisor.arbiter import BROKER_ID, HISTORIAN_ID, UI_ID
from edgeos.supervisor.process import State

from tests.unit.supervisor.fake_parts import World, run, sim


async def started(world: World, *connections: dict[str, Any]) -> None:
    world.write_connections(*connections)
    await world.arbiter.start(world.arbiter.load())


async def tick(world: World, seconds: float) -> None:
    """Live children heartbeat, the fake clock moves, played children answer."""
    for inst in world.arbiter.instances.values():
        inst.on_heartbeat({})
    world.sys.advance(seconds)
    await asyncio.sleep(0)


def states(world: World) -> dict[str, State]:
    return {iid: inst.state for iid, inst in world.arbiter.instances.items()}


# -- start-up ------------------------------------------------------------------------
def test_start_order_broker_then_historian_then_workers_then_ui(world: World) -> None:
    run(world, lambda: started(world, sim("a"), sim("b"), sim("off", enabled=False)))
    spawns = [e[1] for e in world.since(0, "spawn")]
    assert spawns == [BROKER_ID, HISTORIAN_ID, "a", "b", UI_ID]
    assert states(world)["off"] == State.STOPPED
    assert all(s == State.RUNNING for i, s in states(world).items() if i != "off")


def test_children_get_the_injected_environment_and_niceness(tmp_path: Path) -> None:
    for euid, nice in ((0, -2), (1000, 0)):
        world = World(tmp_path / str(euid), euid=euid)
        try:
            _argv, env, spec = world.arbiter._launch(world.arbiter._make(
                world.arbiter._system_config(BROKER_ID, "broker")))
            assert env["EDGEOS_TEST"] == "1" and "PATH" not in env
            assert json.loads(spec)["limits"]["nice"] == nice
        finally:
            world.close()


def test_the_broker_is_told_the_workers_states_once_per_burst(world: World) -> None:
    async def scenario() -> None:
        await started(world, sim("a"), sim("off", enabled=False))
        await asyncio.sleep(0.3)  # (the debounce)
        assert world.broker.states == {"a": "running", "off": "stopped"}
        world.arbiter.instances["a"].stop("test")
        world.arbiter.instances["off"].start("test")
        assert world.arbiter._states_due and len(world.arbiter.tasks) == 1
        await asyncio.sleep(0.3)

    run(world, scenario)
    assert world.broker.states == {"a": "stopped", "off": "running"}


# -- reload --------------------------------------------------------------------------
def test_reload_diff_touches_only_what_changed(world: World) -> None:
    async def scenario() -> dict[str, Any]:
        await started(world, sim("gone"), sim("changed"), sim("same"))
        pids = {i: world.arbiter.instances[i].pid for i in ("gone", "changed", "same")}
        world.write_connections(sim("changed", config={"profile": "bms", "rate_hz": 1}),
                                sim("same"), sim("new"))
        mark = len(world.journal)
        report = await world.arbiter.reload()
        return {"report": report, "pids": pids, "mark": mark}

    out = run(world, scenario)
    assert out["report"] == {"added": ["new"], "removed": ["gone"], "changed": ["changed"],
                             "unchanged": ["same"]}
    after = world.since(out["mark"], "spawn", "signal", "broker")
    assert ("signal", "gone", "SIGTERM") in after and ("signal", "changed", "SIGTERM") in after
    assert not [e for e in after if e[1] == "same"]
    assert [e[1] for e in after if e[0] == "spawn"] == ["changed", "new"]
    broker = [e for e in after if e[0] == "broker"]
    assert broker[0] == ("broker", "check_routes_file",
                         {"instance_ids": ["changed", "same", "new"]})  # before any stop
    assert after.index(broker[0]) == 0
    assert broker[-1][1] == "reload" and set(broker[-1][2]["instances"]) == {
        "changed", "same", "new"}
    assert "gone" not in world.arbiter.instances
    assert world.arbiter.instances["same"].pid == out["pids"]["same"]
    assert world.arbiter.instances["changed"].pid != out["pids"]["changed"]
    assert world.arbiter.instances["changed"].cfg.config["profile"] == "bms"


def test_reload_validates_off_the_event_loop(world: World) -> None:
    """Validation waits for its helper process (seconds on a loaded machine): a reload
    must not stop the supervisor's loop meanwhile (heartbeats, RPCs, a hand-over's
    timers). Here the check blocks until a coroutine on the loop has run."""
    from edgeos.common import schemas

    loop_ran = threading.Event()
    seen: list[tuple[bool, bool]] = []

    def slow_check(schema: Any, doc: Any) -> list[str]:
        seen.append((threading.current_thread() is threading.main_thread(),
                     loop_ran.wait(5)))
        return []

    async def scenario() -> dict[str, Any]:
        await started(world, sim("a"))
        world.write_connections(sim("a"), sim("b"))
        loop = asyncio.get_running_loop()
        loop.call_soon(loop_ran.set)
        schemas.validate_elsewhere(slow_check)
        try:
            return await world.arbiter.reload()
        finally:
            schemas.validate_elsewhere(None)

    report = run(world, scenario)
    assert report["added"] == ["b"]
    assert seen and all(not on_main and loop_free for on_main, loop_free in seen), seen


def test_reload_refused_routes_applies_nothing(world: World) -> None:
    async def scenario() -> int:
        await started(world, sim("a"), sim("b"))
        world.write_connections(sim("a"))
        world.broker.answers["check_routes_file"] = RpcError("route r1: unknown b", BAD_REQUEST)
        mark = len(world.journal)
        with pytest.raises(RpcError, match="unknown b"):
            await world.arbiter.reload()
        return mark

    mark = run(world, scenario)
    assert world.since(mark, "spawn", "signal") == []
    assert {i.id: i.state for i in world.arbiter.workers()} == {
        "a": State.RUNNING, "b": State.RUNNING}


def test_reload_without_a_broker_answer_is_an_error_not_a_success(world: World) -> None:
    async def scenario() -> None:
        await started(world, sim("a"))
        world.write_connections(sim("a"), sim("b"))
        world.broker.answers["reload"] = RpcError("no answer to 'reload'", "unavailable")
        with pytest.raises(RpcError, match="instances applied, but the broker did not take"):
            await world.arbiter.reload()

    run(world, scenario)
    assert world.arbiter.instances["b"].state == State.RUNNING  # applied, and said so


def test_reload_starts_what_it_adds_a_batch_at_a_time(world: World) -> None:
    async def scenario() -> int:
        await started(world)
        world.write_connections(*(sim(f"w{n:02d}") for n in range(10)))
        mark = len(world.journal)
        await world.arbiter.reload()
        return mark

    mark = run(world, scenario)
    progress = [(b["phase"], b["started"], b["total"]) for t, b in world.feed.published
                if t == "reload"]
    assert progress == [("starting", 8, 10), ("starting", 10, 10)]
    spawned = [e[1] for e in world.since(mark, "spawn")]
    assert spawned == [f"w{n:02d}" for n in range(10)]
    assert all(world.arbiter.instances[f"w{n:02d}"].state == State.RUNNING for n in range(10))


# -- panic ---------------------------------------------------------------------------
def test_panic_failsafe_then_freeze_then_stop_workers_only(world: World) -> None:
    async def scenario() -> tuple[int, dict[str, Any]]:
        await started(world, sim("plc", failsafe={"MAIN.setpoint": 15}), sim("meter"))
        world.broker.answers["failsafe"] = {"written": 1}
        mark = len(world.journal)
        return mark, await world.arbiter.panic("alice", "smoke")

    mark, result = run(world, scenario)
    steps = [e[:2] if e[0] != "signal" else e for e in
             world.since(mark, "audit", "broker", "signal")]
    assert steps[:3] == [("audit", "panic"), ("broker", "failsafe"), ("broker", "freeze")]
    stops = steps[3:-1]
    assert sorted(stops) == [("signal", "meter", "SIGTERM"), ("signal", "plc", "SIGTERM")]
    assert steps[-1] == ("audit", "panic_done")
    failsafe = world.since(mark, "broker")[0][2]
    assert failsafe["writes"] == {"plc.MAIN.setpoint": 15}
    assert result["mode"] == "panic" and result["failsafe"] == {"written": 1}
    assert {i: s for i, s in states(world).items()} == {
        BROKER_ID: State.RUNNING, HISTORIAN_ID: State.RUNNING, UI_ID: State.RUNNING,
        "plc": State.STOPPED, "meter": State.STOPPED}
    saved = json.loads((world.paths.data / "state.json").read_text())
    assert (saved["mode"], saved["who"], saved["why"]) == ("panic", "alice", "smoke")


def test_in_panic_nothing_restarts_and_recover_starts_the_enabled(world: World) -> None:
    async def scenario() -> dict[str, Any]:
        await started(world, sim("a"), sim("off", enabled=False))
        await world.arbiter.panic("edgectl", "test")
        world.arbiter.instances["a"].start("try")  # frozen: refused
        assert world.arbiter.instances["a"].state == State.STOPPED
        mark = len(world.journal)
        result = await world.arbiter.recover("edgectl")
        assert world.since(mark, "broker")[0] == ("broker", "freeze", {"frozen": False})
        return result

    assert run(world, scenario) == {"mode": "normal", "started": ["a"]}
    assert states(world)["a"] == State.RUNNING and states(world)["off"] == State.STOPPED


def test_a_second_panic_changes_nothing(world: World) -> None:
    async def scenario() -> dict[str, Any]:
        await started(world, sim("a"))
        await world.arbiter.panic("edgectl", "one")
        mark = len(world.journal)
        again = await world.arbiter.panic("edgectl", "two")
        assert world.since(mark, "audit", "broker", "signal", "spawn") == []
        return again

    assert run(world, scenario) == {"mode": "panic", "already": True}


# -- spawn failures ------------------------------------------------------------------
def test_a_crashing_worker_backs_off_then_gives_up_once_reported(world: World) -> None:
    world.sys.crash.add("bad")

    async def scenario() -> None:
        await started(world, sim("bad"), sim("good"))
        for _ in range(100):  # 50 s of the fake clock in half-second ticks
            inst = world.arbiter.instances["bad"]
            if inst.state == State.ERROR:
                break
            assert inst.state in (State.BACKOFF, State.STARTING)
            await tick(world, 0.5)

    run(world, scenario)
    bad = world.arbiter.instances["bad"]
    assert bad.state == State.ERROR and "gave up" in bad.reason
    spawns = [e for e in world.since(0, "spawn") if e[1] == "bad"]
    assert len(spawns) == bad.restarts + 1 == 6  # flap_max 5 restarts, then it gives up
    backoffs = [b for t, b in world.feed.published if t == "state" and b["id"] == "bad"
                and b["new"] == State.BACKOFF]
    assert backoffs and all("restart in" in b["reason"] for b in backoffs)
    gave_up = [e for e in world.since(0, "error", "sentry") if "gave up" in e[2]]
    assert [e[0] for e in gave_up] == ["error", "sentry"]  # stored and reported once
    assert world.arbiter.instances["good"].state == State.RUNNING


def test_a_worker_that_never_gets_ready_is_killed_and_retried(world: World) -> None:
    world.sys.hang.add("slow")

    async def scenario() -> None:
        world.write_connections(sim("slow"))
        configs = world.arbiter.load()
        start = asyncio.create_task(world.arbiter.start(configs))
        while "slow" not in [e[1] for e in world.journal if e[0] == "spawn"]:
            await asyncio.sleep(0)
        inst = world.arbiter.instances["slow"]
        world.sys.advance(inst.READY_TIMEOUT_S + 0.1)  # the ready timer fires: SIGKILL
        await asyncio.sleep(0)  # the kill is played: exit -9, restart at once
        await asyncio.sleep(0)
        world.sys.hang.discard("slow")
        await start

    run(world, scenario)
    slow = world.arbiter.instances["slow"]
    assert ("signal", "slow", "SIGKILL") in world.journal
    assert slow.state in (State.STARTING, State.RUNNING, State.BACKOFF)
    assert slow.restarts >= 1


def test_a_spawn_the_os_refuses_is_a_crash_not_a_daemon_failure(world: World) -> None:
    world.sys.refuse.add("nofork")

    async def scenario() -> None:
        await started(world, sim("nofork"), sim("good"))
        for _ in range(100):
            if world.arbiter.instances["nofork"].state == State.ERROR:
                break
            await tick(world, 0.5)

    run(world, scenario)
    inst = world.arbiter.instances["nofork"]
    assert inst.state == State.ERROR and inst.pid is None
    assert "Resource temporarily unavailable" in (inst.last_error or "")
    assert world.arbiter.instances["good"].state == State.RUNNING
    assert world.arbiter.instances[UI_ID].state == State.RUNNING  # start-up went on


# -- waiters -------------------------------------------------------------------------
def test_waiters_are_woken_by_the_change_and_removed_on_timeout(world: World) -> None:
    async def scenario() -> None:
        await started(world, sim("a"))
        inst = world.arbiter.instances["a"]
        assert await world.arbiter.wait_for(inst, lambda i: i.state == State.RUNNING, 0)
        stopped = asyncio.create_task(world.arbiter.wait_for(
            inst, lambda i: i.state == State.STOPPED, 5))
        never = asyncio.create_task(world.arbiter.wait_for(
            inst, lambda i: i.state == State.ERROR, 0.05))
        await asyncio.sleep(0)
        assert len(world.arbiter._waiters) == 2
        inst.stop("test")
        assert await stopped is True
        assert await never is False
        assert world.arbiter._waiters == []

    run(world, scenario)


# -- background tasks ----------------------------------------------------------------
def test_a_failing_background_task_is_logged_and_forgotten(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    async def boom() -> None:
        raise RuntimeError("broken on purpose")

    async def scenario() -> None:
        world.arbiter._background(boom(), "the test's task")
        assert len(world.arbiter.tasks) == 1
        await asyncio.sleep(0.01)

    with caplog.at_level(logging.ERROR, "edgeos.supervisor.arbiter"):
        run(world, scenario)
    assert world.arbiter.tasks == set()
    assert "the test's task failed" in caplog.text and "broken on purpose" in caplog.text


def test_a_throttled_worker_is_continued_when_its_throttle_ends(world: World) -> None:
    async def scenario() -> None:
        await started(world, sim("hog", limits={"max_cpu_share": 10}))
        inst = world.arbiter.instances["hog"]
        throttle = world.arbiter.throttles["hog"]
        world.sys.cpu[inst.pid] = throttle.last_cpu = 0.0
        world.sys.cpu[inst.pid] = 5.0  # far over its share: the next step stops it
        await asyncio.sleep(0.15)
        assert throttle.stopped and ("signal", "hog", "SIGSTOP") in world.journal
        for task in list(world.arbiter.tasks):  # shutdown cancels the cycle mid-pause
            task.cancel()
        await asyncio.sleep(0)
        assert not throttle.stopped

    run(world, scenario)
    stop = world.journal.index(("signal", "hog", "SIGSTOP"))
    assert ("signal", "hog", "SIGCONT") in world.journal[stop:]
    assert signal.SIGCONT in [s for p, s in world.sys.signals]


# -- events --------------------------------------------------------------------------
def test_a_spam_suspension_keeps_its_rate_when_a_heartbeat_follows(world: World) -> None:
    # the worker's last heartbeat may arrive after the broker's spam event (seen in CI:
    # the page said "suspended by the spam guard at (no value) pps")
    async def scenario() -> None:
        await started(world, sim("a"))
        broker, inst = world.arbiter.instances[BROKER_ID], world.arbiter.instances["a"]
        world.arbiter._on_event(broker, {"kind": "spam", "instance": "a", "pps": 812.0,
                                         "limit": 50})
        inst.on_heartbeat({"dp_out": 1})
        await tick(world, 1)

    run(world, scenario)
    row = world.arbiter.status("a")[0]
    assert (row["status"], row["spam_pps"]) == ("suspended_by_spam", 812.0)
