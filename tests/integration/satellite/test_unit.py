"""``systemd/edgeos-satellite@.service`` really starts a satellite: its ExecStart line,
with systemd's substitutions done by hand (instance name, environment file, paths
moved under the test's dirs), runs a satellite that a real core admits."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.integration.daemon import BIN, Daemon
from tests.integration.satellite.support import counter, free_endpoint

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]  # several daemons each

UNIT = Path(__file__).resolve().parents[3] / "systemd" / "edgeos-satellite@.service"


def exec_start(env: dict[str, str], sat_id: str, root: Path) -> list[str]:
    """The unit's ExecStart as systemd would run it for instance ``sat_id``."""
    text = UNIT.read_text()
    line = re.search(r"^ExecStart=(.+)$", text, re.M).group(1)
    assert "EnvironmentFile=/etc/edgeos/%i/satellite.env" in text
    line = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], line.replace("%i", sat_id))
    argv = shlex.split(line)
    moved = {"/opt/edgeos/.venv/bin/edgeos": str(BIN / "edgeos"),
             f"/etc/edgeos/{sat_id}": str(root / "config"),
             f"/var/lib/edgeos/{sat_id}": str(root / "data"),
             f"/run/edgeos-{sat_id}": None}
    return [moved.get(a, a) for a in argv]


def test_satellite_unit_starts_a_satellite(daemon_factory, tmp_path) -> None:
    host, port = free_endpoint()
    core = daemon_factory([], extra_args=["--satellite-listen", f"{host}:{port}"]).start()
    env = {"EDGEOS_CORE_HOST": f"{host}:{port}",
           "EDGEOS_CORE_KEY": core.ctl_json("node-key")["key"]}
    sat: Daemon = daemon_factory([counter(rate_hz=10)])
    argv = exec_start(env, "garage", sat.root)
    run_at = argv.index(None)
    argv[run_at] = str(sat.run)
    sat.command, sat.args = argv[:1], argv[1:]
    assert "--headless" in sat.args and "--satellite" in sat.args
    sat.start()
    pending = core.wait_for(lambda: [r for r in core.ctl_json("satellites")
                                     if r["state"] == "pending"], 10, "pending")
    assert pending[0]["id"] == "garage"
    assert core.ctl("satellites", "trust", "--pending", "garage").returncode == 0
    core.wait_for(lambda: core.ctl_json("get", "garage.c1.seq")["value"] > 0, 10, "data")
