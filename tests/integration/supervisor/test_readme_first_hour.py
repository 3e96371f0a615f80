"""The README's command block, run as printed in a "second terminal", against a daemon
started with `make run`'s own command line (read from the Makefile): what a new user
types in the first minutes must work without a flag they were not told about."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.admin_ui.web import free_port
from tests.integration.support import wait_until

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def make_run_command(port: int) -> list[str]:
    """The recipe of the Makefile's ``run`` target, make variables expanded, on a free
    web port (the only change: 8080 may be taken on a test machine)."""
    text = (REPO / "Makefile").read_text()
    recipe = re.search(r"^run:.*\n((?:\t.*\n)+)", text, re.M)
    assert recipe, "no run target in the Makefile"
    (line,) = [ln.strip() for ln in recipe.group(1).splitlines() if "edgeos" in ln]
    line = line.replace("$(BIN)", ".venv/bin").replace("$(PORT)", str(port))
    argv = shlex.split(line)
    if "--web-port" not in argv:
        argv += ["--web-port", str(port)]
    return argv


def readme_block() -> list[str]:
    """The first sh block under "## Using it", one command line per entry."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Using it", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block
    return [ln.split(" #")[0].strip() for ln in block.group(1).splitlines() if ln.strip()]


@pytest.fixture
def terminal(tmp_path: Path):
    """A working dir like a fresh checkout's (its own .venv link), an environment
    without any EDGEOS_* or XDG_RUNTIME_DIR left over, and `make run` in it."""
    (tmp_path / ".venv").symlink_to(BIN.parent)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("EDGEOS_") and k != "XDG_RUNTIME_DIR"}
    log = open(tmp_path / "make-run.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(make_run_command(free_port()), cwd=tmp_path, env=env, stdout=log,
                            stderr=subprocess.STDOUT, text=True)
    try:
        yield tmp_path, env, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log.close()


def at_a_terminal() -> None:
    """Ctrl-C as at a terminal: a suite started in the background (``make test &``)
    passes SIGINT on ignored, and a process that inherits that ignores Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_readme_commands_work_as_printed_after_make_run(terminal) -> None:
    cwd, env, proc = terminal

    def shell(line: str, **kw) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True,
                              text=True, **kw)

    def running() -> bool:
        assert proc.poll() is None, (cwd / "make-run.log").read_text()
        done = shell(".venv/bin/edgectl --json status", timeout=30)
        return done.returncode == 0 and all(i["status"] == "running"
                                           for i in json.loads(done.stdout)["instances"])

    wait_until(running, 60, "the demo plant running")
    lines = readme_block()
    assert any(ln.startswith(".venv/bin/edgectl set ") for ln in lines)
    for line in lines:
        if "-f" in shlex.split(line):  # follows until Ctrl-C: one line is enough
            follow = subprocess.Popen(["bash", "-c", f"exec {line}"], cwd=cwd, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, preexec_fn=at_a_terminal)
            try:
                assert follow.stdout is not None
                assert follow.stdout.readline(), follow.stderr
            finally:
                follow.send_signal(signal.SIGINT)
                # drain the pipes: a log tail longer than a pipe's buffer must not block it
                _, err = follow.communicate(timeout=30)
                assert follow.returncode == 0, err
            continue
        done = shell(line, timeout=90)
        assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
        if " set " in line:
            assert done.stdout.startswith("confirmed: plc_001.MAIN.setpoint = 22.5"), done.stdout
        if line.endswith(" status"):
            assert "plc_001" in done.stdout and "running" in done.stdout
