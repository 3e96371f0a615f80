"""How long ``make test`` would take on N pytest-xdist workers, from the per-test times of
one measured run: for choosing ``TEST_JOBS`` without a full run per candidate.

    .venv/bin/python -m pytest -n 3 --dist loadfile --no-loadscope-reorder \\
        --junitxml=run.xml           # or make test plus PYTEST_ADDOPTS=--junitxml=run.xml
    .venv/bin/python scripts/suite_makespan.py run.xml 3 4 5 6 [--json]

It collects the suite as a worker does (the file order of tests/scheduling.py), then
replays xdist's ``loadfile`` scheduler: every worker takes a file at the start, and
another whenever two or fewer of its tests are left. The figure assumes each test takes
as long as it did in the measured run: it holds while the tests wait on daemons and
peers, not once the workers contend for the 2 cores (then it is a lower bound); say the
load the run was measured at. Tests the run did not have count 0 s and are reported.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from _pytest.junitxml import mangle_test_address

REPO = Path(__file__).resolve().parents[1]


def measured(xml: Path) -> dict[tuple[str, str], float]:
    """(classname, name) -> seconds (setup + call + teardown) from a JUnit XML report."""
    return {(case.get("classname", ""), case.get("name", "")): float(case.get("time") or 0)
            for case in ET.parse(xml).iter("testcase")}


class _Order:
    """Plugin: the test files as the workers get them, each a list of junit keys."""

    def __init__(self) -> None:
        self.files: list[list[tuple[str, str]]] = []

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from tests.scheduling import file_order
        for tests in file_order(items):
            keys = []
            for item in tests:
                names = mangle_test_address(item.nodeid)
                keys.append((".".join(names[:-1]), names[-1]))
            self.files.append(keys)


def collect(paths: list[str]) -> list[list[tuple[str, str]]]:
    order = _Order()
    code = pytest.main(["--collect-only", "-qq", "-p", "no:cacheprovider", "--rootdir",
                        str(REPO), *paths], plugins=[order])
    if code != 0:
        sys.exit(f"collection failed (pytest exit {code})")
    return order.files


def makespan(files: list[list[float]], workers: int) -> list[float]:
    """Each worker's busy time under xdist's LoadScopeScheduling (no reorder)."""
    queue = list(files)
    pending: list[list[float]] = [[] for _ in range(workers)]
    for w in range(workers):  # one file each, then topped up
        if queue:
            pending[w].extend(queue.pop(0))
    clock = [0.0] * workers

    def top_up(w: int) -> None:
        while queue and len(pending[w]) <= 2:
            pending[w].extend(queue.pop(0))

    for w in range(workers):
        top_up(w)
    busy = [w for w in range(workers) if pending[w]]
    while busy:
        w = min(busy, key=lambda i: clock[i])  # the next test to finish
        clock[w] += pending[w].pop(0)
        top_up(w)
        if not pending[w]:
            busy.remove(w)
    return clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("xml", type=Path, help="JUnit XML of one full run")
    parser.add_argument("jobs", type=int, nargs="+", help="worker counts to replay")
    parser.add_argument("--json", action="store_true", help="one JSON line at the end")
    parser.add_argument("--paths", nargs="+", default=[str(REPO / "tests")],
                        help="what to collect (default: the whole suite)")
    args = parser.parse_args()
    times = measured(args.xml)
    order = collect(args.paths)
    files = [[times.get(key, 0.0) for key in keys] for keys in order]
    missing = sum(key not in times for keys in order for key in keys)
    total = sum(map(sum, files))
    longest = max(files, key=sum)
    print(f"{sum(map(len, files))} tests in {len(files)} files, {missing} not in the run; "
          f"sum {total:.0f} s, longest file {sum(longest):.0f} s")
    result = {"sum_s": round(total), "missing": missing, "makespan_s": {}}
    for n in args.jobs:
        clock = makespan(files, n)
        result["makespan_s"][n] = round(max(clock))
        print(f"TEST_JOBS={n}: {max(clock):6.0f} s (workers {', '.join(f'{c:.0f}' for c in clock)};"
              f" sum/n {total / n:.0f} s)")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
