"""scripts/suite_makespan.py replays xdist's loadfile scheduler: a worker takes another
file only once two or fewer of its tests are left, so a file of long tests is not split
and a worker with a long test left can still be handed the next file."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from tests.paths import REPO

_spec = importlib.util.spec_from_file_location("suite_makespan",
                                               REPO / "scripts" / "suite_makespan.py")
assert _spec is not None and _spec.loader is not None
suite_makespan = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(suite_makespan)


def test_one_worker_runs_everything_in_turn() -> None:
    assert suite_makespan.makespan([[5, 5], [1], [2, 3]], 1) == [16]


def test_a_file_stays_on_its_worker_and_the_rest_fill_the_other() -> None:
    # w0 takes the 3 x 10 s file (3 pending: no top-up), w1 the 4 s file and two 1 s files;
    # once w0's first test is done it tops up with the last 1 s file, which then waits
    # behind its two 10 s tests while w1 has long been idle
    clock = suite_makespan.makespan([[10, 10, 10], [4], [1], [1], [1]], 2)
    assert clock == [31, 6]


def test_prefetch_behind_a_long_test_leaves_a_worker_idle() -> None:
    # w0 takes [20, 1] (2 pending) and tops up at once with [5]: it waits behind the 20 s
    clock = suite_makespan.makespan([[20, 1], [2], [5]], 2)
    assert clock == [26, 2]


def test_the_report_from_a_junit_file(tmp_path: Path) -> None:
    """The whole tool: a real collection (of one file here) timed by a JUnit file."""
    xml = tmp_path / "run.xml"
    xml.write_text('<testsuites><testsuite><testcase classname="tests.unit.test_scheduling" '
                   'name="test_a_plain_run_keeps_the_collection_order" time="7.5"/>'
                   '</testsuite></testsuites>')
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "suite_makespan.py"),
                           str(xml), "1", "2", "--json", "--paths",
                           str(REPO / "tests" / "unit" / "test_scheduling.py")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["sum_s"] == 8 and result["makespan_s"] == {"1": 8, "2": 8}
    assert result["missing"] == 1  # the file's other test
