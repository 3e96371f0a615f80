"""The instance state machine and restart policy, driven through the fake seam."""

from __future__ import annotations

import signal

import pytest
from edgeos.supervisor.policy import RestartPolicy
from edgeos.supervisor.process import Instance, InstanceConfig, State

from tests.unit.supervisor.fakes import FakeSystem


@pytest.fixture
def sys_() -> FakeSystem:
    return FakeSystem()


def make(sys_: FakeSystem, **limits: float) -> tuple[Instance, list[tuple[State, State]]]:
    changes: list[tuple[State, State]] = []
    cfg = InstanceConfig(id="w1", type="simulator",
                         limits={"stop_timeout_s": 5, "heartbeat_s": 1, **limits})
    inst = Instance(cfg, sys_, lambda i: (["worker"], {}, b"{}"),
                    lambda i, old, new, why: changes.append((old, new)),
                    lambda i, s: None, RestartPolicy.from_config(
                        {"stable_s": 10, "flap_max": 3, "flap_window_s": 60}))
    return inst, changes


def running(sys_: FakeSystem, **limits: float) -> Instance:
    inst, _ = make(sys_, **limits)
    inst.start()
    inst.on_ready(sys_.last_pid)
    assert inst.state == State.RUNNING
    return inst


def test_start_becomes_running_only_after_ready(sys_: FakeSystem) -> None:
    inst, changes = make(sys_)
    inst.start()
    assert inst.state == State.STARTING and inst.pid == sys_.last_pid
    inst.on_ready(pid=9999)  # a stale process's READY is ignored
    assert inst.state == State.STARTING
    inst.on_ready(sys_.last_pid)
    assert changes == [(State.STOPPED, State.STARTING), (State.STARTING, State.RUNNING)]


def test_ionice_applied_on_spawn_and_nice_once_ready(sys_: FakeSystem) -> None:
    inst, _ = make(sys_, nice=7, ionice=6)
    inst.start()
    assert sys_.priorities == [(inst.pid, 106)]  # (the fake records ionice as 100 + level)
    inst.on_ready(sys_.last_pid)
    assert sys_.priorities == [(inst.pid, 106), (inst.pid, 7)]


def test_graceful_stop(sys_: FakeSystem) -> None:
    inst = running(sys_)
    pid = inst.pid
    inst.stop()
    assert inst.state == State.STOPPING and sys_.signals == [(pid, signal.SIGTERM)]
    sys_.exit(pid, 0)
    assert inst.state == State.STOPPED and inst.pid is None
    sys_.advance(60)  # the SIGKILL timer was cancelled
    assert sys_.signals == [(pid, signal.SIGTERM)]


def test_slow_stop_escalates_to_sigkill_after_timeout(sys_: FakeSystem) -> None:
    inst = running(sys_, stop_timeout_s=3)
    pid = inst.pid
    inst.stop()
    sys_.advance(2.9)
    assert sys_.signals == [(pid, signal.SIGTERM)]
    sys_.advance(0.2)
    assert sys_.signals[-1] == (pid, signal.SIGKILL)
    sys_.exit(pid, -9)
    assert inst.state == State.STOPPED


def test_crash_restarts_at_once_then_backs_off(sys_: FakeSystem) -> None:
    inst = running(sys_)
    first = inst.pid
    sys_.advance(30)  # stable uptime
    sys_.exit(first, -9)
    assert inst.state == State.STARTING and inst.pid != first  # immediate restart
    inst.on_ready(inst.pid)
    sys_.exit(inst.pid, 1)  # fast second crash: back-off
    assert inst.state == State.BACKOFF
    assert inst.restarts == 2
    sys_.advance(0.5 * 1.0)  # base 0.5 s, jitter 0.5 -> factor 1.0
    assert inst.state == State.STARTING


def test_backoff_doubles_and_resets_after_stable_uptime(sys_: FakeSystem) -> None:
    policy = RestartPolicy(base_s=1, max_s=8, stable_s=10, flap_max=100, flap_window_s=60,
                           jitter=0)
    delays = [policy.on_crash(t, 0.1, 0.5) for t in range(6)]
    assert delays == [0.0, 1, 2, 4, 8, 8]
    assert policy.on_crash(10, 11, 0.5) == 0.0  # stable run: history forgotten


def test_jitter_spreads_the_delay() -> None:
    low = RestartPolicy.from_config({"base_s": 1})
    high = RestartPolicy.from_config({"base_s": 1})
    assert low.jitter == 0.2
    for p in (low, high):
        p.on_crash(0, 0, 0.5)
    assert low.on_crash(1, 0, 0.0) == pytest.approx(0.8)
    assert high.on_crash(1, 0, 1.0) == pytest.approx(1.2)


def test_flapping_gives_up_into_error(sys_: FakeSystem) -> None:
    inst, _ = make(sys_)
    inst.start()
    crashes = 0
    while inst.state != State.ERROR and crashes < 10:
        sys_.exit(inst.pid, 1)  # crashes right after each start
        crashes += 1
        sys_.advance(5)  # past any back-off so far (0, 0.5, 1, 2)
    assert inst.state == State.ERROR
    assert crashes == 4  # flap_max=3 crashes tolerated within the window
    assert inst.pid is None and "gave up" in inst.reason
    sys_.advance(3600)
    assert inst.state == State.ERROR  # no more restarts


def test_flap_window_uses_monotonic_clock(sys_: FakeSystem) -> None:
    policy = RestartPolicy.from_config({"flap_max": 2, "flap_window_s": 10, "stable_s": 100})
    assert policy.on_crash(0, 1, 0.5) is not None
    assert policy.on_crash(5, 1, 0.5) is not None
    assert policy.on_crash(20, 1, 0.5) is not None  # the first two fell out of the window
    assert policy.on_crash(21, 1, 0.5) is not None
    assert policy.on_crash(22, 1, 0.5) is None


def test_kill_restarts_with_new_pid(sys_: FakeSystem) -> None:
    inst = running(sys_)
    pid = inst.pid
    inst.kill()
    assert sys_.signals[-1] == (pid, signal.SIGKILL)
    sys_.exit(pid, -9)
    # killed, then restarted at once (first crash in a while)
    assert inst.state == State.STARTING and inst.pid not in (None, pid)


def test_missed_heartbeats_kill_the_worker(sys_: FakeSystem) -> None:
    """The arbiter's 1 Hz pass asks every instance; a hang is caught at that pass."""
    inst = running(sys_, heartbeat_s=1)
    pid = inst.pid
    for _ in range(5):
        sys_.advance(0.9)
        inst.on_heartbeat({"pps_out": 1})
        inst.check_heartbeat()
    assert sys_.signals == []
    for _ in range(2):
        sys_.advance(1.0)
        inst.check_heartbeat()
    sys_.advance(0.9)  # 2.9 s since the last heartbeat
    inst.check_heartbeat()
    assert sys_.signals == []
    sys_.advance(0.2)  # three intervals without a heartbeat
    inst.check_heartbeat()
    assert sys_.signals == [(pid, signal.SIGKILL)]
    assert "no heartbeat" in (inst.last_error or "")
    inst.check_heartbeat()  # killed already: not again while it dies
    assert sys_.signals == [(pid, signal.SIGKILL)]


def test_the_watchdog_leaves_starting_and_stopping_alone(sys_: FakeSystem) -> None:
    inst, _ = make(sys_, heartbeat_s=1)
    inst.start()
    sys_.advance(10)
    inst.check_heartbeat()  # starting: the READY timeout is in charge
    assert sys_.signals == []
    inst.on_ready(inst.pid or -1)
    inst.stop()
    sys_.advance(4)
    inst.check_heartbeat()  # stopping: SIGTERM, then the stop timeout's SIGKILL only
    assert sys_.signals == [(inst.pid, signal.SIGTERM)]


def test_ready_timeout_kills(sys_: FakeSystem) -> None:
    inst, _ = make(sys_)
    inst.start()
    sys_.advance(Instance.READY_TIMEOUT_S + 0.1)
    assert sys_.signals == [(inst.pid, signal.SIGKILL)]


def test_stop_during_backoff_cancels_restart(sys_: FakeSystem) -> None:
    inst = running(sys_)
    sys_.exit(inst.pid, 1)
    inst.on_ready(inst.pid)
    sys_.exit(inst.pid, 1)
    assert inst.state == State.BACKOFF
    spawned = len(sys_.spawned)
    inst.stop()
    assert inst.state == State.STOPPED
    sys_.advance(100)
    assert len(sys_.spawned) == spawned


def test_stop_into_suspended_by_spam(sys_: FakeSystem) -> None:
    inst = running(sys_)
    pid = inst.pid
    inst.stop("spam", target=State.SUSPENDED_BY_SPAM)
    sys_.exit(pid, 0)
    assert inst.state == State.SUSPENDED_BY_SPAM


def test_frozen_instance_does_not_restart(sys_: FakeSystem) -> None:
    inst = running(sys_)
    inst.frozen = True
    sys_.exit(inst.pid, 1)
    assert inst.state == State.STOPPED
    inst.start()
    assert inst.state == State.STOPPED


def test_disconnect_and_reconnect_states(sys_: FakeSystem) -> None:
    inst = running(sys_)
    inst.set_cut(True)
    assert inst.state == State.DISCONNECTED
    inst.set_cut(False)
    assert inst.state == State.RUNNING


def test_exit_of_stale_pid_is_ignored(sys_: FakeSystem) -> None:
    inst = running(sys_)
    old = inst.pid
    inst.kill()
    sys_.exit(old, -9)
    new = inst.pid
    assert new != old
    assert inst.state == State.STARTING


def test_restart_defaults_are_the_schemas() -> None:
    """edgeos.json's ``restart`` defaults are stated once, in its schema."""
    from edgeos.common.schemas import schema

    declared = schema("edgeos")["properties"]["restart"]["properties"]
    policy = RestartPolicy.from_config({"max_s": 12})
    assert policy.max_s == 12
    for key in ("base_s", "stable_s", "flap_max", "flap_window_s"):
        assert getattr(policy, key) == declared[key]["default"]
    assert RestartPolicy.from_config().base_s == 0.5
