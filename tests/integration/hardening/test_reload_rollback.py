"""A reload that kills a process is rolled back for every process it starts or changes
(issue 17 item 3; supervisor/rollback.py), not only the broker: a worker whose new
config crash-loops or blows its RAM cap at once makes the reload fail, and the previous
config of that instance is restored and running; a new instance that fails is dropped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import Any

from tests.integration.daemon import BIN, Daemon, sim

SETTINGS = {"restart": {"base_s": 0.2, "reload_settle_s": 2}}


def fresh_values(d: Daemon, iid: str, since_ms: int) -> bool:
    points = d.call("datapoints", limit=10_000)["datapoints"]
    return any(p["address"].startswith(iid + ".") and p["ts"] > since_ms for p in points)


def assert_restored(d: Daemon, iid: str, old_pid: int) -> dict[str, Any]:
    """``iid`` runs its previous config again (a new process that keeps running)."""
    inst = d.wait_state(iid, "running")
    assert inst["pid"] != old_pid
    assert "reload rolled back" in (inst["last_error"] or ""), inst
    since = int(time.time() * 1000)
    d.wait_for(lambda: fresh_values(d, iid, since), what=f"{iid} values again")
    restarts = inst["restarts"]
    time.sleep(2.5)  # longer than the bad config took to fail: it stays up
    after = d.instance(iid)
    assert (after["status"], after["pid"], after["restarts"]) == ("running", inst["pid"],
                                                                  restarts), after
    return after


def test_changed_worker_that_crash_loops_is_rolled_back(daemon_factory) -> None:
    d = daemon_factory([sim("a"), sim("b")], settings=SETTINGS).start()
    a_pid, b_pid = d.instance("a")["pid"], d.instance("b")["pid"]
    d.write_connections([sim("a", fault={"kind": "crash", "after_s": 0}), sim("b")])
    done = d.ctl("reload")
    assert done.returncode != 0, done.stdout
    assert "reload rolled back 1 instance" in done.stderr, done.stderr
    assert "  a: " in done.stderr, done.stderr  # why: the exit, or the crash it reported
    assert_restored(d, "a", a_pid)
    assert d.instance("b")["pid"] == b_pid  # untouched
    assert any("reload rolled back" in e["message"] for e in d.call("errors", id="a")), \
        d.call("errors", id="a")
    # the operator fixes the file: the next reload takes it
    d.write_connections([sim("a", rate_hz=2), sim("b")])
    done = d.ctl("reload")
    assert done.returncode == 0, done.stderr
    assert d.instance("a")["status"] == "running"


def test_changed_worker_over_its_ram_cap_at_once_is_rolled_back(daemon_factory) -> None:
    d = daemon_factory([sim("a"), sim("b")], settings=SETTINGS).start()
    a_pid = d.instance("a")["pid"]
    d.write_connections([sim("a", fault={"kind": "leak", "mb_per_s": 400},
                             limits={"max_ram_mb": 60}), sim("b")])
    done = d.ctl("reload")
    assert done.returncode != 0, done.stdout
    assert "  a: " in done.stderr and "RAM" in done.stderr, done.stderr
    restored = assert_restored(d, "a", a_pid)
    assert restored["limits"].get("max_ram_mb") != 60  # the previous limits, too


def test_added_worker_that_fails_is_dropped(daemon_factory) -> None:
    d = daemon_factory([sim("a")], settings=SETTINGS).start()
    a_pid = d.instance("a")["pid"]
    d.write_connections([sim("a"), sim("c", fault={"kind": "crash", "after_s": 0})])
    done = d.ctl("reload")
    assert done.returncode != 0, done.stdout
    assert "  c: " in done.stderr, done.stderr
    ids = [i["id"] for i in d.status()["instances"]]
    assert "c" not in ids and "a" in ids
    assert d.instance("a")["pid"] == a_pid
    assert d.ctl("reload").returncode != 0  # still in the file: tried (and refused) again


def test_historian_that_dies_after_a_history_change_is_rolled_back(daemon_factory) -> None:
    """The historian a reload restarts with new ``history`` settings dies at once (a
    kill -9, as its RAM cap would): previous settings back, the historian running."""
    settings = {**SETTINGS, "restart": {**SETTINGS["restart"], "reload_settle_s": 5}}
    d = daemon_factory([sim("a")], settings=settings).start()
    old_pid = d.instance("historian")["pid"]
    (d.config / "edgeos.json").write_text(json.dumps({**settings,
                                                      "history": {"min_interval_s": 2}}))
    reload = subprocess.Popen([str(BIN / "edgectl"), "--run", str(d.run), "reload"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        new = d.wait_for(lambda: (h := d.instance("historian"))["status"] == "running"
                         and h["pid"] not in (None, old_pid) and h["pid"], 30,
                         "historian restarted by the reload", interval=0.02)
        os.kill(new, signal.SIGKILL)
        _, err = reload.communicate(timeout=120)
    finally:
        if reload.poll() is None:
            reload.kill()
    assert reload.returncode != 0, err
    assert "  historian: " in err, err
    back = d.wait_state("historian", "running")
    assert back["pid"] not in (old_pid, new)
    assert "reload rolled back" in (back["last_error"] or ""), back
    # an unchanged file is tried again by the next reload, and taken when it holds
    done = d.ctl("reload")
    assert done.returncode == 0, done.stderr
    assert "historian" in done.stdout, done.stdout
    assert d.instance("historian")["status"] == "running"
