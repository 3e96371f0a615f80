"""``edgectl --endpoint tcp://HOST:PORT`` over the CURVE listener with the user's client
key (CONTRACT sections 6 and 8): refused until trusted, a viewer reads but cannot stop
things, an admin can, revoke ends it."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.integration.daemon import BIN, sim
from tests.integration.satellite.support import free_endpoint

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]  # several daemons each


def test_remote_edgectl_with_client_keys(daemon_factory, tmp_path) -> None:
    host, port = free_endpoint()
    core = daemon_factory([sim("a")], extra_args=["--satellite-listen", f"{host}:{port}"])
    core.start()
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    env.pop("EDGEOS_RUN", None)

    def remote(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "edgectl"), "--endpoint", f"tcp://{host}:{port}",
                               "--timeout", "10", *argv], capture_output=True, text=True,
                              env=env, timeout=60)

    key = subprocess.run([str(BIN / "edgectl"), "client-key"], capture_output=True,
                         text=True, env=env, check=True).stdout.strip()
    assert len(key) == 40
    secret = tmp_path / "xdg" / "edgeos" / "client.key_secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    refused = remote("status")
    assert refused.returncode == 1 and "not trusted" in refused.stderr
    # the core's key was pinned on first use
    known = json.loads((tmp_path / "xdg" / "edgeos" / "known_cores.json").read_text())
    assert known[f"{host}:{port}"] == core.ctl_json("node-key")["key"]
    assert core.ctl("remote", "trust", "--name", "alice", "--role", "viewer", "--",
                    key).returncode == 0
    status = remote("--json", "status")
    assert status.returncode == 0, status.stderr
    assert "a" in [i["id"] for i in json.loads(status.stdout)["instances"]]
    assert remote("logs", "-f", "a").returncode == 2  # follows only locally
    stop = remote("stop", "a")
    assert stop.returncode == 1 and "viewer" in stop.stderr
    assert core.instance("a")["status"] == "running"
    assert core.ctl("remote", "trust", "--name", "alice", "--role", "admin", "--",
                    key).returncode == 0
    assert remote("stop", "a").returncode == 0
    assert core.instance("a")["status"] == "stopped"
    listed = core.ctl_json("remote", "list")
    assert [(r["name"], r["role"]) for r in listed] == [("alice", "admin")]
    assert core.ctl("remote", "revoke", "alice").returncode == 0
    assert remote("status").returncode == 1
