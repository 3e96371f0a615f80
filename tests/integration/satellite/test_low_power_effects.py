"""What LOW_POWER changes inside a running satellite, each effect checked on real
daemons: a modbus worker polling a real pymodbus server reports (and does) polls at
twice its configured interval, ``edgectl status`` names the profile's effects, and the
satellite runs fewer processes and threads than the same satellite on BALANCED
(counted in /proc/PID/task)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.integration.daemon import Daemon
from tests.integration.modbus.peers import ServerThread
from tests.integration.satellite.support import counter

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

HOST = "127.0.26.1"
POLL_S = 0.1
THREADS_MAX = 4  # main, ZeroMQ's I/O and reaper threads, and one storage thread at most


def satellite_args(sat_id: str, *more: str) -> list[str]:
    # no core listens there: the satellite buffers and keeps working
    return ["--satellite", "--satellite-id", sat_id, "--core-host", "127.0.26.9:46001",
            "--core-key=" + "x" * 40, *more]


@pytest.fixture
def device() -> Iterator[ServerThread]:
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    server = ServerThread([1], host=HOST).start()
    yield server
    server.close()


def modbus(port: int) -> dict[str, Any]:
    return {"id": "m1", "type": "modbus",
            "config": {"host": HOST, "port": port, "poll_interval_s": POLL_S, "timeout_s": 0.5,
                       "registers": [{"name": "a", "function": "holding", "address": 0},
                                     {"name": "b", "function": "holding", "address": 10,
                                      "poll_interval_s": 0.3}]}}


def processes(d: Daemon) -> dict[str, psutil.Process]:
    sup = psutil.Process(d.proc.pid)
    out = {"supervisor": sup}
    for p in sup.children(recursive=True):
        out[p.cmdline()[0].removeprefix("edgeos: ").strip()] = p
    return out


def threads(p: psutil.Process) -> int:
    return len(list(Path(f"/proc/{p.pid}/task").iterdir()))


def assert_polls_at(d, device, factor: float) -> None:
    """The worker ``m1`` polls at ``factor`` times its configured intervals: by its own
    report (its datapoints' meta and its stats) and at the device, whose reads of
    register 0 over a measured span are no more than that (a loaded machine polls less,
    never more)."""
    d.wait_for(lambda: d.call("get", address="m1.a")["quality"] == "good", what="a read")
    assert d.call("get", address="m1.a")["meta"]["poll_interval_s"] == \
        pytest.approx(factor * POLL_S)
    assert d.call("get", address="m1.b")["meta"]["poll_interval_s"] == \
        pytest.approx(factor * 0.3)
    d.wait_for(lambda: d.instance("m1").get("bus", {}).get("poll_multiplier") == factor,
               what="the poll multiplier in the worker's stats")
    device.requests.clear()
    t0 = time.monotonic()
    time.sleep(3)
    span = time.monotonic() - t0
    reads = sum(1 for r in list(device.requests) if r[1] == 3 and r[2] == 0)
    assert 0 < reads <= span / (factor * POLL_S) + 2, f"{reads} reads in {span:.1f} s"


def test_low_power_worker_polls_at_twice_its_interval(daemon_factory, device) -> None:
    d = daemon_factory([modbus(device.port)], extra_args=satellite_args("sat1", "--low-power"))
    d.start()
    assert_polls_at(d, device, 2)
    status = d.ctl("status").stdout
    assert "profile: LOW_POWER (polls x2, small queues, SQLite cache 256 KiB)" in status, status
    assert d.status()["profile_effects"]["poll_multiplier"] == 2.0


def test_balanced_worker_keeps_its_interval(daemon_factory, device) -> None:
    d = daemon_factory([modbus(device.port)],
                       extra_args=satellite_args("sat1", "--performance", "BALANCED"))
    d.start()
    d.wait_for(lambda: d.call("get", address="m1.a")["quality"] == "good", what="a read")
    assert d.call("get", address="m1.a")["meta"]["poll_interval_s"] == POLL_S
    d.wait_for(lambda: d.instance("m1").get("bus", {}).get("poll_multiplier") == 1.0,
               what="the poll multiplier in the worker's stats")
    assert d.status()["profile_effects"] == {}


def test_low_power_satellite_runs_fewer_processes_and_threads(daemon_factory) -> None:
    lean = daemon_factory([counter(rate_hz=50)], headless=False,
                          extra_args=satellite_args("lean", "--low-power")).start()
    full = daemon_factory([counter(rate_hz=50)], headless=False,
                          extra_args=satellite_args("full", "--performance", "BALANCED"))
    full.start()
    for d in (lean, full):
        d.wait_for(lambda d=d: d.call("get", address="c1.seq")["value"] > 50, 20, "values")
    for d in (lean, full):  # the schema helper ends 5 s after the last load it checked
        d.wait_for(lambda d=d: "validator" not in processes(d), 20, "the validator gone")
    lean_procs, full_procs = processes(lean), processes(full)
    assert set(lean_procs) - {"zygote", "forkserver simulator"} == {
        "supervisor", "broker", "uplink", "worker c1 [simulator]"}
    # (both fork workers from a template, unless it was slow to start: not asserted,
    # it depends on the machine's load)
    assert {"historian", "admin-ui"} <= set(full_procs), full_procs
    lean_threads = {name: threads(p) for name, p in lean_procs.items()}
    full_threads = {name: threads(p) for name, p in full_procs.items()}
    assert max(lean_threads.values()) <= THREADS_MAX, lean_threads
    assert sum(lean_threads.values()) < sum(full_threads.values()), (lean_threads,
                                                                      full_threads)
