"""One namespace (issue 14 item 1): the project installs as ``edgeos.*`` only, so the
supervisord distribution (import name ``supervisor``) can live in the same environment
and the daemon still runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SKIP = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "*.so",
                              "__pycache__", "node_modules", "var", ".pytest_cache")


def _site(prefix: Path) -> Path:
    return next((prefix / "lib").glob("python3*/site-packages"))


def test_the_projects_venv_has_no_top_level_supervisor(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "import supervisor; print(supervisor.__file__)"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    if done.returncode == 0:  # only supervisord's own package may answer to the name
        assert str(REPO) not in done.stdout and "site-packages/supervisor" in done.stdout
    else:
        assert "No module named 'supervisor'" in done.stderr


@pytest.mark.slow
@pytest.mark.timeout(600)  # pip builds the project: minutes on a loaded machine
def test_installed_beside_supervisord_the_daemon_runs(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=SKIP)
    venv = tmp_path / "venv"
    # No pip of its own (installing one is most of a new venv's cost): the test venv's pip
    # installs into it (``--python``).
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    # The project's dependencies come from the test venv as a plain path entry at the end of
    # sys.path (its .pth files, the editable install among them, are not processed), so the
    # new venv builds only the project itself and supervisord: seconds, not minutes.
    (_site(venv) / "test-deps.pth").write_text(f"{_site(Path(sys.prefix))}\n")
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
           "-q", "--disable-pip-version-check"]
    for what in (["--no-deps", str(src)], ["supervisor"]):  # ours, then supervisord beside it
        done = subprocess.run([*pip, *what], capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import json, supervisor, edgeos.supervisor.arbiter as a; from importlib.metadata "
         "import version; print(json.dumps([supervisor.__file__, a.__file__, "
         "version('supervisor')]))"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=True)
    theirs, ours, _ = json.loads(probe.stdout)
    assert theirs.endswith("site-packages/supervisor/__init__.py")
    assert ours.endswith("site-packages/edgeos/supervisor/arbiter.py")

    config, data = tmp_path / "config", tmp_path / "data"
    config.mkdir()
    (config / "connections.json").write_text(json.dumps({"version": "1.0", "connections": [
        {"id": "sim_1", "type": "simulator", "config": {"profile": "plc", "rate_hz": 2}}]}))
    run = Path(tempfile.mkdtemp(prefix="eo-"))
    proc = subprocess.Popen([str(venv / "bin" / "edgeos"), "--config", str(config), "--data",
                             str(data), "--run", str(run), "--headless"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        status: dict[str, str] = {}
        while time.monotonic() < deadline and status.get("sim_1") != "running":
            done = subprocess.run([str(venv / "bin" / "edgectl"), "--run", str(run), "--json",
                                   "status"], capture_output=True, text=True, timeout=60)
            if done.returncode == 0:
                status = {i["id"]: i["status"] for i in json.loads(done.stdout)["instances"]}
            time.sleep(0.5)
        assert status.get("sim_1") == "running", status
    finally:
        proc.terminate()
        assert proc.wait(60) == 0
        shutil.rmtree(run, ignore_errors=True)
