"""The plugin manager against a real daemon: real wheels from a local index, real pip,
a real worker of the plugin's type (issue 14)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from edgeos.ipc.rpc import BAD_REQUEST, REFUSED, RpcError

from tests.integration.daemon import Daemon, sim
from tests.integration.plugins.wheels import build

DIST = "edgeos-plugin-counter"


def pip_freeze() -> str:
    return subprocess.run([sys.executable, "-m", "pip", "freeze", "--all",
                           "--disable-pip-version-check"], capture_output=True, text=True,
                          check=True, timeout=120).stdout


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("index")
    build(out, DIST, "1.0.0")
    build(out, DIST, "2.0.0")
    build(out, "edgeos-plugin-broken", "1.0.0", type_name="broken",
          requires=["edgeos-no-such-dependency>=1"])
    build(out, "edgeos-plugin-badmanifest", "1.0.0", type_name="badmanifest",
          manifest_change={"author": None, "config_schema": {"type": "no-such-type"}})
    return out


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, index: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path_factory.mktemp("plugd"), connections=[sim("plc_1")],
               settings={"version": "1.0", "plugins": {"index": str(index)}})
    try:
        yield d.start()
        d.stop()
    finally:
        d.cleanup()


def add_counter(d: Daemon) -> Any:
    doc = d.call("connections")
    doc["connections"].append({"id": "cnt", "type": "counter", "config": {}})
    return d.call("connections", doc=doc)


def value(d: Daemon, address: str) -> Any:
    try:
        return d.call("get", address=address)["value"]
    except RpcError:
        return None


def job(d: Daemon, started: dict[str, Any]) -> dict[str, Any]:
    view = started
    while view["state"] == "running":
        view = d.call("plugin_job", job=view["job"], since=view["next"], wait=20)
    return view


def test_install_run_update_disable_uninstall(daemon: Daemon) -> None:
    d = daemon
    done = d.ctl("plugin", "install", f"{DIST}==1.0.0")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Successfully installed edgeos-plugin-counter-1.0.0" in done.stdout  # streamed
    assert (d.data / "plugins" / DIST / "edgeos_plugin_counter").is_dir()
    listed = {p["name"]: p for p in d.call("plugin_list")}
    assert listed["counter"]["plugin"] == DIST and listed["counter"]["version"] == "1.0.0"
    assert not listed["counter"]["builtin"] and listed["simulator"]["builtin"]
    # the type is known to validation at once (no daemon restart) and its worker runs
    add_counter(d)
    d.wait_state("cnt", "running")
    d.wait_for(lambda: value(d, "cnt.version") == "1.0.0", 15, "the plugin's datapoints")
    assert d.instance("cnt")["limits"]["max_ram_mb"] == 128  # the manifest's default_limits
    offline = d.ctl("validate", str(d.config), "--data", str(d.data))
    assert offline.returncode == 0, offline.stdout  # edgectl validate sees the plugin too
    offline = d.ctl("validate", str(d.config), "--data", str(d.root / "elsewhere"))
    assert offline.returncode == 1 and "unknown worker type 'counter'" in offline.stdout

    listed = {p["name"]: p for p in d.call("plugin_list", check=True)}
    assert listed["counter"]["latest"] == "2.0.0" and listed["counter"]["update_available"]
    shown = d.ctl("plugin", "list", "--check").stdout.splitlines()
    assert any(line.split()[:2] == ["counter", "1.0.0"] and line.endswith(
        "update 2.0.0 available") for line in shown), shown
    old_pid = d.instance("cnt")["pid"]
    done = d.ctl("plugin", "update", DIST)
    assert done.returncode == 0, done.stdout + done.stderr
    d.wait_for(lambda: value(d, "cnt.version") == "2.0.0", 20, "the new version running")
    assert d.instance("cnt")["pid"] != old_pid
    assert not {p["name"]: p for p in d.call("plugin_list", check=True)}["counter"][
        "update_available"]
    again = d.ctl("plugin", "update", "counter")  # by type name; nothing newer
    assert again.returncode == 0 and "is the newest version" in again.stdout

    # disabling a type with instances asks first, and then leaves nothing running
    refused = d.ctl("--json", "plugin", "disable", "counter")
    assert refused.returncode == 1 and json.loads(refused.stdout)["detail"] == ["cnt"]
    assert d.instance("cnt")["status"] == "running"
    out = d.ctl_json("plugin", "disable", "counter", "--stop-instances")
    assert out["stopped"] == ["cnt"] and d.instance("cnt")["status"] == "stopped"
    settings = json.loads((d.config / "edgeos.json").read_text())
    assert settings["plugins"] == {"index": settings["plugins"]["index"],
                                   "disabled": ["counter"]}
    with pytest.raises(RpcError) as err:
        d.call("reload")
    assert err.value.code == BAD_REQUEST and "'counter' is disabled" in str(err.value.detail)
    with pytest.raises(RpcError) as err:
        d.call("start", id="cnt")
    assert err.value.code == REFUSED and "disabled" in str(err.value)
    assert d.ctl_json("plugin", "enable", "counter")["started"] == ["cnt"]
    d.wait_state("cnt", "running")

    refused = d.ctl("plugin", "uninstall", DIST)
    assert refused.returncode == 1 and "cnt" in refused.stderr
    d.ctl_json("plugin", "disable", "counter", "--stop-instances")
    out = d.ctl_json("plugin", "uninstall", "counter", "--stop-instances")
    assert out == {"uninstalled": DIST, "types": ["counter"], "stopped": ["cnt"]}
    assert not (d.data / "plugins" / DIST).exists()
    assert json.loads((d.config / "edgeos.json").read_text())["plugins"]["disabled"] == []
    assert "counter" not in {p["name"] for p in d.call("plugin_list")}
    with pytest.raises(RpcError) as err:
        d.call("start", id="cnt")
    assert "not installed" in str(err.value)
    doc = d.call("connections")
    doc["connections"] = [c for c in doc["connections"] if c["id"] != "cnt"]
    assert d.call("connections", doc=doc)["removed"] == ["cnt"]


def test_a_broken_dependency_changes_nothing(daemon: Daemon) -> None:
    d = daemon
    before = pip_freeze()
    folders = sorted(p.name for p in (d.data / "plugins").glob("*")) \
        if (d.data / "plugins").exists() else []
    done = d.ctl("plugin", "install", "edgeos-plugin-broken")
    assert done.returncode == 1
    assert "pip install failed" in done.stderr and "edgeos-no-such-dependency" in done.stdout
    assert pip_freeze() == before  # the core's environment is untouched
    assert sorted(p.name for p in (d.data / "plugins").glob("*")) == folders
    assert "broken" not in {p["name"] for p in d.call("plugin_list")}
    assert d.instance("plc_1")["status"] == "running"


def test_an_invalid_manifest_is_refused_with_the_reason(daemon: Daemon) -> None:
    d = daemon
    view = job(d, d.call("plugin_install", source="edgeos-plugin-badmanifest"))
    assert view["state"] == "failed" and "invalid plugin" in view["error"]
    reasons = "\n".join(view["detail"])
    assert "'author' is a required property" in reasons
    assert "config_schema is not a valid JSON Schema" not in reasons  # first the schema...
    assert "badmanifest" not in {p["name"] for p in d.call("plugin_list")}
    assert not (d.data / "plugins" / "edgeos-plugin-badmanifest").exists()


def test_bad_requests_are_refused_before_pip_runs(daemon: Daemon) -> None:
    d = daemon
    for source in ("--index-url=http://evil/ x", "relative/path.whl", ""):
        with pytest.raises(RpcError) as err:
            d.call("plugin_install", source=source)
        assert err.value.code == BAD_REQUEST
    with pytest.raises(RpcError) as err:
        d.call("plugin_uninstall", name="simulator")
    assert err.value.code == REFUSED and "built into the core" in str(err.value)
    with pytest.raises(RpcError) as err:
        d.call("plugin_uninstall", name="tornado")
    assert err.value.code == "not_found"
