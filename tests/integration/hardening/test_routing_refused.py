"""A routing.json that reload refused must not crash-loop the broker on its next start
(issue 17 item 2): it runs on the last good routes and says so loudly."""

from __future__ import annotations

import json
import os
import signal

from tests.integration.daemon import sim

ROUTE = {"id": "v2sp", "from": "bms_1.voltage", "to": "plc_1.MAIN.setpoint",
         "transform": "scale(0.5)"}
BAD = {"version": "1.0", "routes": [{"id": "x", "from": "nobody.value", "to": "plc_1.a"}]}


def restart_broker(d) -> None:
    pid = d.instance("broker")["pid"]
    os.kill(pid, signal.SIGKILL)
    d.wait_for(lambda: (b := d.instance("broker"))["status"] == "running" and b["pid"] != pid,
               what="broker back")


def test_refused_reload_then_broker_crash_keeps_last_good_routes(daemon_factory) -> None:
    d = daemon_factory([sim("bms_1", "bms", rate_hz=5), sim("plc_1", rate_hz=5)],
                       routes=[ROUTE]).start()
    kept = d.data / "routing.last-good.json"
    d.wait_for(lambda: json.loads(kept.read_text())["routes"] == [ROUTE], what="kept")
    # the note goes right after the last good set is written (settled: file, then note)
    d.wait_for(lambda: not (d.data / "routing.taking").exists(), 5, "taking note dropped")
    (d.config / "routing.json").write_text(json.dumps(BAD))
    done = d.ctl("reload")
    assert done.returncode != 0 and "nobody" in done.stderr + done.stdout
    restart_broker(d)
    broker = d.instance("broker")
    assert [r["id"] for r in d.call("routes")["routes"]] == ["v2sp"]
    fired = d.call("routes")["counters"]["v2sp"]["fired"]
    d.wait_for(lambda: d.call("routes")["counters"]["v2sp"]["fired"] > fired,
               what="the kept route fires")
    # loud: an ERROR line in the broker's log, the refusal in status, an error record
    entries = d.call("logs", id="broker", n=300)
    assert any(e["level"] == "ERROR" and "routing.json refused" in e["line"]
               and "last good routes" in e["line"] for e in entries), entries[-20:]
    broker = d.wait_for(lambda: (b := d.instance("broker"))["last_error"] and b,
                        what="refusal in status")
    assert "refused" in broker["last_error"] and "nobody" in broker["last_error"]
    assert broker["status"] == "running" and broker["restarts"] == 1
    # a fixed file and reload clear it
    d.write_routes([ROUTE, {**ROUTE, "id": "second", "transform": "scale(2)"}])
    assert d.ctl("reload").returncode == 0
    d.wait_for(lambda: [r["id"] for r in json.loads(kept.read_text())["routes"]]
               == ["v2sp", "second"], what="new set kept once it ran")
    restart_broker(d)
    assert [r["id"] for r in d.call("routes")["routes"]] == ["v2sp", "second"]


def test_invalid_routing_at_first_start_runs_without_routes(daemon_factory) -> None:
    d = daemon_factory([sim("plc_1")])
    (d.config / "routing.json").write_text("{ not json")
    d.start()
    broker = d.instance("broker")
    assert broker["status"] == "running" and broker["restarts"] == 0
    assert d.call("routes")["routes"] == []
    assert "running WITHOUT routes" in (broker["last_error"] or d.wait_for(
        lambda: d.instance("broker")["last_error"], what="refusal"))
