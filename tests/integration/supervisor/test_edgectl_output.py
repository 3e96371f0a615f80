"""edgectl prints for a person: every verb without --json, --json after the verb too,
and `validate` checks the right dir and reports root causes only."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.integration.daemon import sim

BIN = Path(sys.executable).parent
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  crashy \[simulator\]", re.M)


def edgectl(*argv: str, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "edgectl"), *argv], capture_output=True, text=True,
                          timeout=60, cwd=cwd, env=env)


def test_validate_a_missing_dir_is_bad_usage(tmp_path: Path) -> None:
    done = edgectl("validate", str(tmp_path / "nonexistent"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"edgectl: no config dir {tmp_path / 'nonexistent'}"


def test_validate_reports_the_root_cause_only(tmp_path: Path) -> None:
    (tmp_path / "connections.json").write_text(json.dumps({"version": "1.0", "connections": [
        sim("a"), {**sim("b"), "limits": {"nice": 99}}]}))
    (tmp_path / "routing.json").write_text(json.dumps({"version": "1.0", "routes": [
        {"id": f"r{n}", "from": "a.MAIN.fTemp", "to": "b.MAIN.setpoint"} for n in range(5)]}))
    done = edgectl("--json", "validate", str(tmp_path))
    assert done.returncode == 1
    errors = json.loads(done.stdout)["errors"]
    assert len(errors) == 1 and "limits.nice: 99 is greater than the maximum" in errors[0]


def test_validate_without_a_dir_checks_the_running_daemon(daemon_factory,
                                                          tmp_path: Path) -> None:
    d = daemon_factory([sim("a")]).start()
    env = {**os.environ, "EDGEOS_RUN": str(d.run)}
    env.pop("EDGEOS_CONFIG", None)
    done = edgectl("validate", cwd=tmp_path, env=env)  # tmp_path has no ./config
    assert (done.returncode, done.stdout.splitlines()[0]) == (0, f"{d.config}: valid")


def test_every_verb_prints_for_a_person(daemon_factory) -> None:
    d = daemon_factory([sim("keep", failsafe={"MAIN.setpoint": 5}), sim("drop"),
                        sim("crashy", "meter", rate_hz=1, fault={"kind": "crash", "after_s": 0.3})],
                       routes=[{"id": "old", "from": "keep.MAIN.fTemp", "to": "log.system"}],
                       settings={"restart": {"base_s": 0.1, "flap_max": 2}}
                       ).start(wait=False)
    d.wait_for(lambda: d.call("errors"), 30, "a crash recorded")
    d.wait_state("keep", "running")

    errors = d.ctl("errors").stdout
    assert STAMP.search(errors), errors
    assert "\\n" not in errors and "Traceback" in errors  # real line breaks

    d.write_connections([sim("keep", failsafe={"MAIN.setpoint": 5}), sim("new")])
    d.write_routes([{"id": "fresh", "from": "keep.MAIN.fTemp", "to": "log.system"}])
    done = d.ctl("reload")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "instances started: new; stopped: crashy, drop; restarted: none; unchanged: 1",
        "routes added: fresh; removed: old; changed: none; total: 1"]

    done = d.ctl("panic", "--reason", "drill")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0].startswith("PANIC: mode panic (took ")
    assert lines[1:] == ["  fail-safe keep.MAIN.setpoint = 5: acknowledged",
                         "leave it with: edgectl recover"]
    done = d.ctl("recover")
    assert done.stdout.strip() == "recovered: mode normal; workers started: keep, new"

    created = d.ctl("token", "create", "--name", "ci").stdout.splitlines()
    assert created[0] == "token ci (role viewer), shown only this once:"  # the default
    assert len(created) == 2 and len(created[1]) > 30
    listed = d.ctl("token", "list").stdout.splitlines()
    assert listed[0].split() == ["NAME", "ROLE", "CREATED", "HINT"]
    assert listed[1].startswith("ci") and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", listed[1])
    assert d.ctl("token", "revoke", "ci").stdout.strip() == "token ci revoked"

    # --json after the verb, same document as before it
    after, before = d.ctl("status", "--json"), d.ctl("--json", "status")
    assert after.returncode == before.returncode == 0
    assert {i["id"] for i in json.loads(after.stdout)["instances"]} == \
        {i["id"] for i in json.loads(before.stdout)["instances"]}
