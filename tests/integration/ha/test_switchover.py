"""Planned switch-over and epoch fencing (issue 15): ``edgectl ha promote`` on the
standby raises the epoch and the primary, fenced by it, demotes itself to its standby;
``edgectl ha demote`` hands back; a satellite that has seen a higher epoch refuses a
core's commands (``stale_epoch``) and that core demotes itself. Real daemons."""

from __future__ import annotations

import json

import pytest

from tests.integration.daemon import sim
from tests.integration.ha.support import free_listen, make_cores
from tests.integration.satellite.support import Recorder, counter

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]  # several daemons each


def audit(d) -> list[dict]:
    path = d.data / "audit.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() \
        else []


def test_promote_fences_the_primary_and_demote_hands_back(daemon_factory) -> None:
    cores = make_cores(daemon_factory, [sim("plc1", "plc", 5), sim("m1", "plc", 5,
                                                                   mirror=True)])
    p, s = cores.primary, cores.standby
    sat = cores.satellite(daemon_factory, [counter("c1", 100)])
    recs = [Recorder(p.run, "sat1."), Recorder(s.run, "sat1.")]
    p.wait_for(lambda: len(recs[0].seqs("sat1.c1.seq")) > 100, 20, "data on the primary")
    s.wait_for(lambda: s.instance("plc1")["status"] == "stopped", 10, "plc1 held on standby")
    done = s.ctl("ha", "promote", "--reason", "maintenance of the NAS")
    assert done.returncode == 0, done.stderr
    ha_s = cores.ha(s)
    assert (ha_s["role"], ha_s["epoch"]) == ("active", 2)
    # the primary hears the higher epoch over the mirror link and demotes itself
    p.wait_for(lambda: cores.ha(p)["role"] == "standby", 10, "primary fenced")
    ha_p = cores.ha(p)
    assert ha_p["epoch"] == 2 and ha_p["peer"] == cores.standby_listen
    assert "epoch 2" in ha_p["reason"]
    # the satellite moved to the new active core: nothing lost, nothing taken twice
    s.wait_for(lambda: len(recs[1].seqs("sat1.c1.seq")) > 100, 15, "data on the new core")
    on_p, on_s = recs[0].seqs("sat1.c1.seq"), recs[1].seqs("sat1.c1.seq")
    assert on_p == list(range(on_p[0], on_p[-1] + 1))
    assert on_s == list(range(on_p[-1] + 1, on_p[-1] + 1 + len(on_s))), \
        f"primary ended at {on_p[-1]}, the new core began at {on_s[0]}"
    for rec in recs:
        rec.close()
    assert s.ctl_json("set", "sat1.c1.setpoint", "9")["outcome"] == "confirmed"
    assert sat.ctl_json("get", "c1.commands_seen")["value"] == 1
    # instances follow the roles: plc1 runs only on the active core
    s.wait_state("plc1", "running")
    p.wait_for(lambda: p.instance("plc1")["status"] == "stopped", 10, "plc1 stopped")
    assert p.instance("m1")["status"] == "running" and s.instance("m1")["status"] == "running"
    # the old primary now mirrors from the new active core
    p.wait_for(lambda: cores.ha(p)["state"] == "mirroring", 20, "old primary mirrors")
    # every role change is audited with its reason
    assert any(a["action"] == "ha_active" and "maintenance" in a["why"] for a in audit(s))
    assert any(a["action"] == "ha_standby" and a["epoch"] == 2 for a in audit(p))
    # planned hand-back from the active side
    done = s.ctl("ha", "demote")
    assert done.returncode == 0, done.stderr + done.stdout
    assert cores.ha(s)["role"] == "standby"
    ha_p = cores.ha(p)
    assert (ha_p["role"], ha_p["epoch"]) == ("active", 3)
    p.wait_state("plc1", "running")
    s.wait_for(lambda: s.instance("plc1")["status"] == "stopped", 10, "plc1 stopped again")


def test_satellite_refuses_a_stale_epoch_and_the_core_demotes(daemon_factory) -> None:
    listen = free_listen()
    core = daemon_factory([], extra_args=["--satellite-listen", listen]).start()
    key = core.ctl_json("node-key")["key"]
    sat = daemon_factory([counter("c1", 20)], extra_args=[
        "--satellite", "--satellite-id", "sat1", "--core-host", listen, f"--core-key={key}"])
    sat.data.mkdir(parents=True, exist_ok=True)
    (sat.data / "fence.json").write_text(json.dumps({"epoch": 5}))  # it saw epoch 5 once
    sat.start()
    done = core.ctl("satellites", "trust", "--id", "sat1", "--", sat.ctl_json("node-key")["key"])
    assert done.returncode == 0, done.stderr
    core.wait_for(lambda: core.ctl_json("get", "sat1.c1.seq")["value"] > 1, 20, "data flows")
    before = core.ctl_json("get", "sat1.c1.commands_seen")["value"]
    core.ctl("set", "--no-wait", "sat1.c1.setpoint", "30")
    # refused on the satellite: the device never sees it, and the core demotes
    core.wait_for(lambda: core.ctl_json("ha")["role"] == "standby", 10, "core demoted")
    assert core.ctl_json("ha")["epoch"] == 5
    assert sat.ctl_json("get", "c1.commands_seen")["value"] == before
    # a standby core takes no satellite and actuates nothing
    sat.wait_for(lambda: "standby" in (sat.ctl_json("satellites")[0]["reason"] or ""), 10,
                 "satellite refused by a standby core")
    core.ctl("set", "--no-wait", "sat1.c1.setpoint", "31")
    assert sat.ctl_json("get", "c1.setpoint")["value"] != 31
    assert sat.ctl_json("get", "c1.commands_seen")["value"] == before
