"""tests/scheduling.py in a real pytest-xdist run of a small suite (two workers, the
Makefile's ``--dist loadfile --no-loadscope-reorder``): the file of slow tests goes out
first although it comes last and has the fewest tests (xdist's own order: most tests
first), and a plain run keeps the collection order."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.paths import REPO

RECORD = '''
import os, pytest

def record(name):
    with open(os.environ["RECORD"], "a") as f:
        f.write(f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')} {name}\\n")
'''

SUITE = {
    "conftest.py": 'pytest_plugins = ["tests.scheduling"]\n',
    "pytest.ini": "[pytest]\nmarkers =\n    slow: slow\n",
    "test_b_shared.py": RECORD + '''
@pytest.fixture(scope="module")
def peer():
    return object()

@pytest.mark.parametrize("n", range(3))
def test_b(peer, n):
    record(f"b{n}")
''',
    "test_c_fast.py": RECORD + '''
@pytest.mark.parametrize("n", range(4))
def test_c(n):
    record(f"c{n}")
''',
    "test_z_slow.py": RECORD + '''
@pytest.mark.slow
def test_z0():
    record("z0")

@pytest.mark.slow
def test_z1():
    record("z1")
''',
}


def _env(record: Path) -> dict[str, str]:
    """This environment without what xdist set for this test's own worker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}
    return {**env, "RECORD": str(record), "PYTHONPATH": str(REPO)}


def test_the_file_of_slow_tests_goes_out_first(
        tmp_path: Path) -> None:
    for name, text in SUITE.items():
        (tmp_path / name).write_text(text)
    record = tmp_path / "record.txt"
    env = _env(record)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-n", "2", "--dist", "loadfile", "--no-loadscope-reorder"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = [line.split() for line in record.read_text().splitlines()]
    assert sorted(name for _, name in runs) == ["b0", "b1", "b2", "c0", "c1", "c2", "c3",
                                                "z0", "z1"]
    worker = {name: w for w, name in runs}
    z_worker = worker["z0"]
    assert [name for w, name in runs if w == z_worker][:2] == ["z0", "z1"], runs
    assert len({worker[f"b{n}"] for n in range(3)}) == 1, runs  # each file on one worker
    assert len({worker[f"c{n}"] for n in range(4)}) == 1, runs


def test_a_plain_run_keeps_the_collection_order(tmp_path: Path) -> None:
    for name, text in SUITE.items():
        (tmp_path / name).write_text(text)
    record = tmp_path / "record.txt"
    env = _env(record)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    names = [line.split()[1] for line in record.read_text().splitlines()]
    assert names == ["b0", "b1", "b2", "c0", "c1", "c2", "c3", "z0", "z1"]
