"""Kernel OOM kills and warnings through the state machine, in both event orders."""

from __future__ import annotations

import signal
from typing import Any

from edgeos.supervisor.cgroups import EventSink
from edgeos.supervisor.kernel_limits import KernelLimits
from edgeos.supervisor.policy import RestartPolicy
from edgeos.supervisor.process import Instance, InstanceConfig, State

from tests.unit.supervisor.fakes import FakeSystem

MB = 1024 * 1024


class FakeBackend:
    """Records what the supervisor asks; the test plays the kernel's part."""

    name = "cgroup-v1"

    def __init__(self) -> None:
        self.sinks: dict[str, EventSink] = {}
        self.ooms: dict[str, bool] = {}
        self.killed: list[str] = []
        self.fail = False

    def place(self, instance_id: str, pid: int, limits: dict[str, Any],
              sink: EventSink) -> None:
        if self.fail:
            raise PermissionError("cgroup.procs: permission denied")
        self.sinks[instance_id] = sink
        self.ooms[instance_id] = False

    def release(self, instance_id: str) -> None:
        self.sinks.pop(instance_id, None)

    def oom_killed(self, instance_id: str) -> bool:
        return self.ooms.get(instance_id, False)

    def kill(self, instance_id: str) -> bool:
        self.killed.append(instance_id)
        return True

    def throttled_s(self, instance_id: str) -> float:
        return 0.0

    def remove(self, instance_id: str) -> None:
        pass

    def close(self) -> None:
        pass


CHANGES: list[tuple[State, str]] = []


def setup() -> tuple[FakeSystem, FakeBackend, KernelLimits, Instance, list[tuple[str, str]]]:
    CHANGES.clear()
    sys_ = FakeSystem()
    backend = FakeBackend()
    reports: list[tuple[str, str]] = []
    kernel = KernelLimits(backend, lambda inst, kind, msg: reports.append((kind, msg)))
    cfg = InstanceConfig(id="w1", type="simulator", limits={"max_ram_mb": 60})
    inst = Instance(cfg, sys_, lambda i: (["worker"], {}, b"{}"),
                    lambda i, old, new, why: CHANGES.append((new, why)),
                    lambda i, spawned: kernel.place(i, spawned.pid),
                    RestartPolicy.from_config({"base_s": 0.5, "stable_s": 10}))
    inst.explain_exit = kernel.explain_exit
    inst.start()
    inst.on_ready(sys_.last_pid)
    return sys_, backend, kernel, inst, reports


def test_exit_first_then_the_counter_says_oom() -> None:
    sys_, backend, kernel, inst, reports = setup()
    pid = inst.pid
    assert kernel.label(inst) == "cgroup-v1"
    old_sink = backend.sinks["w1"]
    backend.ooms["w1"] = True  # the kernel killed it at the cap ...
    sys_.exit(pid, -9)  # ... and the exit arrives before the cgroup event
    killed = [why for new, why in CHANGES if new == State.KILLED]
    assert killed == ["RAM limit exceeded: killed by the kernel at max_ram_mb 60 MB "
                      "(cgroup-v1)"]
    assert inst.last_error == killed[0]
    assert [k for k, _ in reports] == ["ram_exceeded"]
    old_sink("oom", 1)  # the old process's cgroup event, arriving late
    assert [k for k, _ in reports] == ["ram_exceeded"]
    assert inst.restarts == 1 and inst.pid != pid


def test_oom_event_first_kills_the_tree_through_the_state_machine() -> None:
    sys_, backend, _kernel, inst, reports = setup()
    pid = inst.pid
    backend.sinks["w1"]("oom", 1)
    assert (pid, signal.SIGKILL) in sys_.signals
    backend.ooms["w1"] = True
    sys_.exit(pid, -9)
    assert inst.restarts == 1
    assert [new for new, _ in CHANGES][-2:] == [State.KILLED, State.STARTING]
    assert "RAM limit exceeded" in (inst.last_error or "")
    assert [k for k, _ in reports] == ["ram_exceeded"]  # once, not per event


def test_warning_event_and_a_plain_crash() -> None:
    sys_, backend, _kernel, inst, reports = setup()
    backend.sinks["w1"]("ram_warning", 50 * MB)
    assert reports == [("ram_warning",
                        "RAM at 83% of its limit: 50.0 of 60 MB (cgroup-v1 event)")]
    sys_.exit(inst.pid, 1)  # no OOM counted: a crash like any other
    assert "exited unexpectedly" in (inst.last_error or "")
    assert len(reports) == 1


def test_failed_placement_falls_back_to_sampling() -> None:
    sys_, backend, kernel, inst, _reports = setup()
    backend.fail = True
    sys_.exit(inst.pid, 1)
    sys_.advance(5)
    assert inst.pid is not None and kernel.label(inst) == "sampling"
    assert not kernel.enforces(inst)
