"""The supervisor with real processes: no mocks of the supervisor or ZeroMQ."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import psutil

from tests.integration.daemon import pid_alive, sim

STATUS_FIELDS = {"id", "name", "type", "status", "pid", "nice", "cpu_percent", "memory_mb",
                 "memory_percent", "disk_io_read_mb", "disk_io_write_mb",
                 "network_packets_sent", "network_packets_recv", "pps_in", "pps_out",
                 "uptime_seconds", "restarts", "error_count", "last_error",
                 "heartbeat_age_s", "limits"}


def titles(pids: list[int]) -> list[str]:
    return [" ".join(psutil.Process(p).cmdline()).strip() for p in pids]


def test_spawn_titles_status_and_stop_start_restart(daemon_factory) -> None:
    d = daemon_factory([sim("plc_1"), sim("bms_1", "bms")]).start()
    status = d.ctl_json("status")
    assert status["mode"] == "normal"
    by_id = {i["id"]: i for i in status["instances"]}
    assert {"broker", "plc_1", "bms_1"} <= set(by_id)
    for inst in status["instances"]:
        assert set(inst) >= STATUS_FIELDS, STATUS_FIELDS - set(inst)
    assert by_id["plc_1"]["status"] == "running"
    assert titles([by_id["plc_1"]["pid"], by_id["broker"]["pid"]]) == [
        "edgeos: worker plc_1 [simulator]", "edgeos: broker"]
    assert titles([d.proc.pid]) == ["edgeos: supervisor"]
    # live figures arrive from heartbeats and sampling
    d.wait_for(lambda: d.instance("bms_1")["pps_out"] > 0, what="pps_out > 0")
    d.wait_for(lambda: d.instance("bms_1")["memory_mb"] > 5, what="rss sampled")

    pid = by_id["plc_1"]["pid"]
    done = d.ctl("stop", "plc_1")
    assert done.returncode == 0, done.stderr
    assert d.instance("plc_1")["status"] == "stopped" and not pid_alive(pid)
    assert d.ctl("start", "plc_1").returncode == 0
    inst = d.instance("plc_1")
    assert inst["status"] == "running" and inst["pid"] != pid
    pid = inst["pid"]
    assert d.ctl("restart", "plc_1").returncode == 0
    assert d.instance("plc_1")["pid"] not in (None, pid)


def test_kill_9_is_restarted_with_new_pid(daemon_factory) -> None:
    d = daemon_factory([sim("w1")]).start()
    pid = d.instance("w1")["pid"]
    os.kill(pid, signal.SIGKILL)
    inst = d.wait_for(lambda: (i := d.instance("w1"))["status"] == "running"
                      and i["pid"] != pid and i, what="restart")
    assert inst["restarts"] == 1
    assert "exited unexpectedly" in inst["last_error"]


def test_edgectl_kill_sigkills_the_tree_and_it_comes_back(daemon_factory) -> None:
    d = daemon_factory([sim("w1")]).start()
    pid = d.instance("w1")["pid"]
    done = d.ctl("--json", "kill", "w1")
    assert done.returncode == 0, done.stderr
    assert not pid_alive(pid)
    inst = d.wait_state("w1", "running")
    assert inst["pid"] != pid


def test_flapping_worker_ends_in_error(daemon_factory) -> None:
    d = daemon_factory([sim("crashy", fault={"kind": "crash", "after_s": 0})],
                       settings={"restart": {"base_s": 0.1, "flap_max": 3,
                                             "flap_window_s": 60}}).start(wait=False)
    d.wait_for(lambda: d.instance("crashy")["status"] == "error", 40, "error state")
    inst = d.instance("crashy")
    assert inst["pid"] is None and inst["restarts"] == 3
    # the crash's stack trace reached the error store
    errors = d.call("errors", id="crashy")
    assert any("SimulatedCrash" in (e["traceback"] or "") for e in errors)


def test_slow_stop_is_sigkilled_after_its_timeout(daemon_factory) -> None:
    d = daemon_factory([sim("stubborn", fault={"kind": "slow_stop"},
                            limits={"stop_timeout_s": 1.5})]).start()
    pid = d.instance("stubborn")["pid"]
    t0 = time.monotonic()
    assert d.ctl("stop", "stubborn").returncode == 0
    took = time.monotonic() - t0
    assert not pid_alive(pid)
    assert 1.4 <= took < 6, took
    assert "did not stop within 1.5 s" in d.instance("stubborn")["last_error"]


def test_stop_of_one_instance_does_not_block_another(daemon_factory) -> None:
    # The stubborn stop lasts until its 60 s stop timeout or our kill: `start other`
    # returning while it still stops is the proof, with no wall-clock bound (a loaded
    # host can take seconds to start edgectl; a 4 s timeout made this flaky).
    d = daemon_factory([sim("stubborn", fault={"kind": "slow_stop"},
                            limits={"stop_timeout_s": 60}), sim("other")]).start()
    d.call("stop", id="other")
    slow = threading.Thread(target=lambda: d.ctl("stop", "stubborn"))
    slow.start()
    d.wait_state("stubborn", "stopping")
    assert d.ctl("start", "other").returncode == 0
    assert d.instance("other")["status"] == "running"
    assert d.instance("stubborn")["status"] == "stopping"
    assert d.ctl("kill", "stubborn").returncode == 0
    slow.join(30)
    assert not slow.is_alive()
    d.wait_state("stubborn", "stopped")


def test_reload_adds_removes_and_changes_only_what_changed(daemon_factory) -> None:
    d = daemon_factory([sim("keep"), sim("change"), sim("drop")]).start()
    pids = {i["id"]: i["pid"] for i in d.status()["instances"]}
    d.write_connections([sim("keep"), sim("change", rate_hz=2), sim("new")])
    report = d.ctl_json("reload")
    assert report == {"added": ["new"], "removed": ["drop"], "changed": ["change"],
                      "unchanged": ["keep"],
                      "routes": {"added": [], "removed": [], "changed": [], "total": 0,
                                 "warnings": []}}
    d.wait_state("new", "running")
    now = {i["id"]: i for i in d.status()["instances"]}
    assert "drop" not in now and not pid_alive(pids["drop"])
    assert now["keep"]["pid"] == pids["keep"]
    assert now["change"]["pid"] != pids["change"] and now["change"]["status"] == "running"


def test_invalid_reload_is_refused_and_running_set_stays(daemon_factory) -> None:
    d = daemon_factory([sim("a"), sim("b")]).start()
    before = {i["id"]: i["pid"] for i in d.status()["instances"]}
    d.write_connections([sim("a"), {"id": "b", "type": "simulator",
                                    "config": {"profile": "plc"},
                                    "limits": {"nice": 99}}])
    done = d.ctl("reload")
    assert done.returncode == 1
    assert "connections.json: connections[1] (id 'b'): limits.nice: 99 is greater than the " \
           "maximum of 19" in done.stderr
    assert {i["id"]: i["pid"] for i in d.status()["instances"]} == before
    (d.config / "connections.json").write_text("{ not json")
    done = d.ctl("--json", "reload")
    assert done.returncode == 1
    assert "invalid JSON at line 1" in json.loads(done.stdout)["detail"][0]


def test_invalid_config_at_start_exits_nonzero_with_reason(daemon_factory) -> None:
    d = daemon_factory([{"id": "x y", "type": "simulator", "config": {"profile": "plc"}},
                        {"id": "z", "type": "nosuchtype"}])
    d.start(wait=False)
    code = d.proc.wait(20)
    out = d.daemon_log()
    assert code == 1
    assert "connections.json: connections[0] (id 'x y'): id: 'x y' does not match" in out
    d2 = daemon_factory([{"id": "z", "type": "nosuchtype"}]).start(wait=False)
    assert d2.proc.wait(20) == 1
    assert "connections[0] (id 'z'): type: unknown worker type 'nosuchtype'" in d2.daemon_log()


def test_logs_capture_worker_output(daemon_factory) -> None:
    d = daemon_factory([sim("w1")]).start()
    lines = d.wait_for(lambda: [e for e in d.call("logs", id="w1", n=100)
                                if "running" in e["line"]], what="state line in logs")
    assert lines
    done = d.ctl("logs", "w1", "-n", "5")
    assert done.returncode == 0 and "w1" in done.stdout
    assert (d.data / "logs" / "w1.log").exists()


def test_sigterm_stops_every_child_and_exits_0(daemon_factory) -> None:
    d = daemon_factory([sim("a"), sim("b", "bms"),
                        sim("stubborn", fault={"kind": "slow_stop"},
                            limits={"stop_timeout_s": 1})]).start()
    pids = [i["pid"] for i in d.status()["instances"]]
    assert all(pids)
    seen = {p.pid for p in d.children_by_run_dir()}  # the check below can fail
    assert {d.proc.pid, *pids} <= seen and len(seen) > len(pids) + 1  # + broker, zygote
    assert d.stop(signal.SIGTERM) == 0
    assert [p for p in pids if pid_alive(p)] == []
    assert d.children_by_run_dir() == []


def test_sigkill_of_daemon_leaves_no_worker(daemon_factory) -> None:
    d = daemon_factory([sim("a"), sim("b", "meter")]).start()
    pids = [i["pid"] for i in d.status()["instances"]]
    d.proc.kill()
    d.proc.wait(10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.05)
    assert [p for p in pids if pid_alive(p)] == []


def test_edgectl_exit_codes(daemon_factory, tmp_path) -> None:
    d = daemon_factory([sim("a")]).start()
    assert d.ctl("stop", "nosuch").returncode == 1
    assert d.ctl("frobnicate").returncode == 2
    assert d.ctl("satellites", "revoke", "nosuch").returncode == 1  # refused: unknown
    unreachable = d.ctl("--run", str(tmp_path / "nowhere"), "status")
    assert unreachable.returncode == 3
