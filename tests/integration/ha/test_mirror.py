"""A standby core mirrors the primary (issue 15, CONTRACT section 8): config files,
the auth store and last values, over the CURVE satellite listener; only
``"mirror": true`` instances run on the standby. Two real daemons on 127.0.15.x."""

from __future__ import annotations

import sqlite3

import pytest

from tests.integration.daemon import sim
from tests.integration.ha.support import make_cores

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]  # several daemons each


def test_standby_mirrors_config_values_and_auth(daemon_factory) -> None:
    conns = [sim("plc1", "plc", 10), sim("logic1", "plc", 10, mirror=True)]
    cores = make_cores(daemon_factory, conns, trust=False)
    p, s = cores.primary, cores.standby
    # not trusted yet: the standby is refused and mirrors nothing
    s.wait_for(lambda: cores.ha(s)["state"] == "refused", 10, "refused before trust")
    assert cores.ha(s)["role"] == "standby"
    cores.trust()
    # the files arrive, written atomically by the standby's supervisor
    s.wait_for(lambda: cores.config(s, "connections.json") == cores.config(p, "connections.json"),
               10, "connections.json mirrored")
    # only the mirror instance runs on the standby; plc1 is held stopped
    s.wait_state("logic1", "running")
    plc1 = s.instance("plc1")
    assert plc1["status"] == "stopped" and not plc1["enabled"]
    assert p.instance("plc1")["status"] == "running"
    # last values of the primary's instances, also of those not running here
    s.wait_for(lambda: s.call("datapoints", prefix="plc1.")["total"] > 0, 10, "plc1 values")
    got = s.ctl_json("get", "plc1.MAIN.fTemp")
    assert got["value"] is not None
    # a change on the primary appears on the standby, with a backup of the old file
    doc = cores.config(p, "connections.json")
    doc["connections"].append(sim("logic2", "plc", 5, mirror=True))
    p.call("connections", doc=doc)
    s.wait_for(lambda: cores.config(s, "connections.json") == doc, 10, "change mirrored")
    s.wait_state("logic2", "running")
    assert list((s.data / "backups").glob("connections.json.*"))
    # the auth store: a token made on the primary is valid on the standby
    assert p.ctl("token", "create", "--name", "ops").returncode == 0
    s.wait_for(lambda: (s.data / "auth.json").exists()
               and (s.data / "auth.json").read_text() != "" and "ops" in
               (s.data / "auth.json").read_text(), 10, "auth.json mirrored")
    # both ends show the role, epoch, peer and lag
    ha_p, ha_s = cores.ha(p), cores.ha(s)
    assert ha_p["role"] == "primary" and ha_p["state"] == "mirrored"
    assert ha_s["role"] == "standby" and ha_s["peer"] == cores.primary_listen
    assert ha_p["epoch"] == ha_s["epoch"] == 1
    s.wait_for(lambda: cores.ha(s)["lag_dp"] is not None, 5, "lag reported")
    assert cores.ha(s)["lag_s"] < 5
    # history: the standby's historian records the primary's values of plc1 (which runs
    # only there), so a takeover finds the trends going on
    s.wait_for(lambda: len(history(s.data, "plc1.MAIN.fTemp")) >= 3, 30,
               "plc1's values in the standby's history")
    rows = history(s.data, "plc1.MAIN.fTemp")
    assert len({ts for ts, _ in rows}) == len(rows)  # each value once


def history(data, address: str) -> list[tuple[int, float]]:
    """(ts, value) rows of one datapoint in a core's history.db (empty: none yet)."""
    if not (data / "history.db").exists():
        return []
    with sqlite3.connect(f"file:{data / 'history.db'}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT ts, value FROM raw JOIN series ON series.id = raw.series "
                            "WHERE name = ? ORDER BY ts", (address,)).fetchall()
