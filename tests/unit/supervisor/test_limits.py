"""RAM escalation and CPU duty cycling, driven through the fake seam."""

from __future__ import annotations

import signal

from edgeos.supervisor.limits import (
    BURST_S,
    RAM_GROWTH_MB_S,
    RAM_MAX_PERIOD_S,
    RAM_PERIOD_S,
    CpuThrottle,
    RamGuard,
)
from edgeos.supervisor.process import Instance, InstanceConfig, State

from tests.unit.supervisor.fakes import FakeSystem


def running(sys_: FakeSystem, **limits: float) -> Instance:
    cfg = InstanceConfig(id="w", type="simulator", limits=limits)
    inst = Instance(cfg, sys_, lambda i: ([], {}, b""), lambda *a: None, lambda *a: None)
    inst.start()
    inst.on_ready(inst.pid)
    return inst


def test_ram_warns_at_80_percent_once_then_kills_at_100() -> None:
    sys_ = FakeSystem()
    inst = running(sys_, max_ram_mb=100)
    events: list[tuple[str, str]] = []
    guard = RamGuard(sys_, lambda i, kind, msg: events.append((kind, msg)))
    pid = inst.pid
    for rss in (50, 81, 85, 90):
        sys_.rss[pid] = rss
        guard.check(inst)
    assert [k for k, _ in events] == ["ram_warning"]
    assert "81.0 of 100 MB" in events[0][1]
    sys_.rss[pid] = 101
    guard.check(inst)
    assert events[-1][0] == "ram_exceeded" and "101.0 MB RSS > max_ram_mb 100 MB" in events[-1][1]
    assert sys_.signals == [(pid, signal.SIGKILL)]
    sys_.exit(pid, -9)
    assert inst.state == State.STARTING and inst.pid != pid  # restarted


def test_ram_guard_ignores_uncapped() -> None:
    sys_ = FakeSystem()
    inst = running(sys_)
    guard = RamGuard(sys_, lambda *a: None)
    sys_.rss[inst.pid] = 10_000
    guard.check(inst)
    assert sys_.signals == []


def test_cpu_throttle_duty_cycles_to_the_share() -> None:
    sys_ = FakeSystem()
    inst = running(sys_, max_cpu_share=20)
    pid = inst.pid
    sys_.cpu[pid] = 0.0
    throttle = CpuThrottle(sys_, inst, 20)
    running_s = stopped_s = 0.0
    t_end = sys_.now + 30
    while sys_.now < t_end:
        wait = throttle.step()
        if throttle.stopped:
            stopped_s += wait
        else:
            running_s += wait
            sys_.cpu[pid] += wait  # a hog uses every moment it runs
        sys_.advance(wait)
    share = running_s / (running_s + stopped_s)
    assert 0.18 <= share <= 0.25, share
    assert (pid, signal.SIGSTOP) in sys_.signals and (pid, signal.SIGCONT) in sys_.signals


def test_cpu_throttle_lets_a_brief_spike_through() -> None:
    sys_ = FakeSystem()
    inst = running(sys_, max_cpu_share=20)
    pid = inst.pid
    sys_.cpu[pid] = 0.0
    throttle = CpuThrottle(sys_, inst, 20)
    sys_.advance(0.1)
    sys_.cpu[pid] += 0.1 * BURST_S  # a 100 ms spike, within the 1 s burst budget at 20 %
    throttle.step()
    assert not throttle.stopped and sys_.signals == []


def test_released_throttle_continues_the_process() -> None:
    sys_ = FakeSystem()
    inst = running(sys_, max_cpu_share=10)
    pid = inst.pid
    sys_.cpu[pid] = 0.0
    throttle = CpuThrottle(sys_, inst, 10)
    sys_.advance(1)
    sys_.cpu[pid] = 1.0
    throttle.step()
    assert throttle.stopped
    throttle.release()
    assert sys_.signals[-1] == (pid, signal.SIGCONT)


def test_sampler_cpu_percent_between_samples() -> None:
    from edgeos.supervisor.stats import Sampler

    sys_ = FakeSystem()
    sampler = Sampler(sys_)
    sys_.cpu[7], sys_.rss[7] = 10.0, 30.0
    first = sampler.sample(7)
    assert first["cpu_percent"] == 0.0 and first["memory_mb"] == 30.0
    sys_.advance(2)
    sys_.cpu[7] = 11.0  # one CPU second in two wall seconds
    assert sampler.sample(7)["cpu_percent"] == 50.0
    assert sampler.sample(8) == {}


def test_ram_sampling_slows_down_far_from_the_limit_and_speeds_up_near_it() -> None:
    sys_ = FakeSystem()
    inst = running(sys_, max_ram_mb=500)
    guard = RamGuard(sys_, lambda *a: None)
    sys_.rss[inst.pid] = 30
    assert guard.check(inst) == RAM_MAX_PERIOD_S  # 370 MB below the 80 % mark
    sys_.rss[inst.pid] = 380
    assert guard.check(inst) == RAM_PERIOD_S  # 20 MB below it: at full pace
    sys_.rss[inst.pid] = 410  # warned: the next mark is the limit itself
    assert abs(guard.check(inst) - 90 / RAM_GROWTH_MB_S) < 1e-9
