"""tests/rewrite_cache.py in a real pytest-xdist run of a small suite: the controller
writes each test module's assert-rewritten ``.pyc`` before the workers start, even with
PYTHONDONTWRITEBYTECODE set (as on the CI machine, where pytest itself then never
caches and every worker rewrote every module); the workers' asserts still explain."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.paths import REPO

SUITE = {
    "conftest.py": 'pytest_plugins = ["tests.rewrite_cache"]\n',
    "test_one.py": "def test_fails():\n    x = 1\n    assert x + 1 == 3\n",
    "sub/test_two.py": "def test_passes():\n    assert [1, 2] == [1, 2]\n",
}


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}
    env.update(PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def _suite(tmp_path: Path) -> None:
    for name, text in SUITE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)


def test_the_controller_writes_the_rewritten_modules_for_the_workers(tmp_path: Path) -> None:
    _suite(tmp_path)
    done = _run(tmp_path, "-n", "2")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 failed, 1 passed" in done.stdout
    assert "assert (1 + 1) == 3" in done.stdout  # the worker ran the rewritten assert
    cached = sorted(p.relative_to(tmp_path).as_posix()
                    for p in tmp_path.rglob("*-pytest-*.pyc"))
    assert sorted(p.split("/")[-1].split(".")[0] for p in cached) == [
        "conftest", "test_one", "test_two"], cached


def test_a_run_without_workers_writes_nothing(tmp_path: Path) -> None:
    _suite(tmp_path)
    done = _run(tmp_path)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "assert (1 + 1) == 3" in done.stdout
    assert not list(tmp_path.rglob("*.pyc"))
