"""What an idle supervisor keeps loaded (issue 16, RSS): on a real daemon with
simulator workers, the modules only a config load or a rare command needs are not in
the supervisor's ``sys.modules`` once it idles, and the schema validation helper that
checked the config has ended, yet a reload is still validated with the same messages.

The daemon is the real ``edgeos`` main, started through a probe that adds one SIGUSR2
handler writing ``sys.modules`` to a file (the loop only claims SIGTERM and SIGINT).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import psutil
import pytest
from edgeos.ipc.rpc import BAD_REQUEST, RpcError

from tests.integration.daemon import sim

PROBE = """\
import json, os, signal, sys

def dump(*_):
    path = os.environ["EDGEOS_TEST_MODULES_OUT"]
    with open(path + ".tmp", "w") as fh:
        json.dump(sorted(sys.modules), fh)
    os.replace(path + ".tmp", path)

signal.signal(signal.SIGUSR2, dump)
from edgeos.supervisor.cli import main
sys.exit(main(sys.argv[1:]))
"""
# Each costs the supervisor RSS for its whole life (measured with bench/peers.py):
# jsonschema & co ~4 MB and importlib.metadata with email ~1.3 MB (both used in the
# validation helper process), psutil ~1 MB (profile detection reads /proc and sysfs),
# uuid (job ids from os.urandom), the admin UI and the routing engine (other processes),
# shutil/tempfile with bz2 and lzma ~0.5 MB (argparse's formatter; a config write
# imports them, so they are only absent until the first one); sqlite3 with libsqlite3
# ~1.4 MB (the error store connects on its first error: supervisor/errors.py); the
# HA, user, discovery and plugin commands with the HA mirror's module ~0.9 MB (imported
# on their first request: supervisor/command_modules.py, ha_setup.py); zmq.auth (with
# glob), the key module and the satellite trust store (the helper makes and checks the node keys at
# start; a node without satellite links never loads them: satellite_setup.py); the
# discovery jobs' runner (made on the first discovery command: Arbiter.jobs) and a
# reload's rollback (imported by the reload).
FOR_GOOD = ("jsonschema", "referencing", "rpds", "attrs", "jsonschema_specifications",
            "importlib.metadata", "email", "psutil", "uuid", "tornado", "edgeos.admin_ui",
            "edgeos.ipc.routing", "edgeos.supervisor.ha_commands",
            "edgeos.supervisor.ha_selffence", "edgeos.supervisor.auth_commands",
            "edgeos.supervisor.discover_commands", "edgeos.supervisor.plugin_commands",
            "edgeos.ipc.ha.mirror", "edgeos.ipc.satellite.dialer", "zmq.auth", "glob",
            "edgeos.ipc.satellite.trust",
            "edgeos.ipc.satellite.keys", "edgeos.supervisor.jobs",
            "edgeos.supervisor.rollback")
HEAVY = (*FOR_GOOD, "shutil", "tempfile", "bz2", "lzma", "sqlite3", "_sqlite3")


def idle_modules(d, out: Path) -> list[str]:
    os.kill(d.proc.pid, signal.SIGUSR2)
    d.wait_for(out.exists, 10, "the probe's module list")
    return json.loads(out.read_text())


def validator_pids(pid: int) -> list[int]:
    return [c.pid for c in psutil.Process(pid).children()
            if "edgeos: validator" in " ".join(c.cmdline())]


def test_idle_supervisor_keeps_no_load_time_modules(daemon_factory, tmp_path: Path) -> None:
    out = tmp_path / "modules.json"
    d = daemon_factory([sim(f"s{n}", rate_hz=1) for n in range(3)],
                       env={"EDGEOS_TEST_MODULES_OUT": str(out)})
    d.command = [sys.executable, "-c", PROBE]
    d.start()
    # the helper that validated the config ends once the load is over (IDLE_S)
    d.wait_for(lambda: not validator_pids(d.proc.pid), 30, "the validator helper ended")
    loaded = idle_modules(d, out)
    assert "edgeos.supervisor.arbiter" in loaded  # the probe sees the real supervisor
    assert [m for m in loaded if m.startswith(HEAVY)] == []
    # the node keys were made at start all the same (by the helper), and are served
    public = (d.data / "keys" / "node.key").read_text()
    assert d.call("node_key")["key"] in public

    d.write_connections([sim("s0", limits={"nice": 99})])
    done = d.ctl("reload")
    assert done.returncode == 1
    assert "connections.json: connections[0] (id 's0'): limits.nice: 99 is greater than " \
           "the maximum of 19" in done.stderr
    out.unlink()
    loaded = idle_modules(d, out)
    assert not [m for m in loaded if m.startswith(("jsonschema", "importlib.metadata"))]

    # a command whose module was kept out runs on its first request, and help lists it
    assert "edgeos.supervisor.ha_commands" not in loaded
    ha = d.call("ha")
    assert (ha["role"], ha["state"], ha["followers"]) == ("primary", "alone", [])
    assert {"ha_promote", "ha_alone", "plugin_list", "user_add"} <= set(d.call("help"))


def test_route_edits_leave_no_routing_engine_behind(daemon_factory, tmp_path: Path) -> None:
    """validate_routes / save_routes / connections check the routes in the helper: same
    answers, and jsonschema and the routing engine stay out of the idle supervisor."""
    out = tmp_path / "modules.json"
    d = daemon_factory([sim("s0", rate_hz=1), sim("s1", rate_hz=1)],
                       env={"EDGEOS_TEST_MODULES_OUT": str(out)})
    d.command = [sys.executable, "-c", PROBE]
    d.start()
    cycle = {"version": "1.0", "routes": [
        {"id": "there", "from": "s0.a", "to": "s1.b"},
        {"id": "back", "from": "s1.b", "to": "s0.a"}]}
    warnings = d.call("validate_routes", doc=cycle)["warnings"]
    assert len(warnings) == 1 and "'back', 'there' form a cycle" in warnings[0]
    bad = {"version": "1.0", "routes": [{"id": "r", "from": "s0.a", "to": "nobody.b"}]}
    with pytest.raises(RpcError) as exc:
        d.call("save_routes", doc=bad)
    assert str(exc.value) == "invalid routing.json, routes unchanged"
    assert exc.value.code == BAD_REQUEST and any("nobody" in line for line in exc.value.detail)
    assert not (d.config / "routing.json").exists()  # nothing written
    d.call("save_routes", doc=cycle)
    assert json.loads((d.config / "routing.json").read_text()) == cycle
    with pytest.raises(RpcError, match=r"invalid routing\.json, routes unchanged"):
        d.call("connections", doc={"version": "1.0", "connections": [sim("s0", rate_hz=1)]})
    d.wait_for(lambda: not validator_pids(d.proc.pid), 30, "the validator helper ended")
    assert [m for m in idle_modules(d, out) if m.startswith(FOR_GOOD)] == []
