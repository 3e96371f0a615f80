"""The order in which ``make test`` hands the test files to its pytest-xdist workers
(``--dist loadfile --no-loadscope-reorder``). The suite's wall time is set by its slowest
tests, which wait on real daemons and peers. xdist's default order (the files with the
most tests first) put the files of a few slow tests at the very end, where they ran one
after another while the other workers sat idle. Here the files go out by their number of
``slow`` tests (more than ~10 s each), most first, then in collection order: the many
short files fill the gaps at the end.

A file stays whole on one worker (``loadfile``): many share a module fixture (daemons,
browsers) that each worker would otherwise build again. (``--dist loadgroup`` with
``xdist_group`` marks could spread a slow file's tests, but pytest-xdist 3.8 cannot
group under pytest 9.2: it renames ``item._nodeid``, which pytest no longer reads.)

Only xdist's workers reorder (the controller hands out files in their collection order);
a plain ``pytest`` run keeps its order."""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)  # after any hook that deselects or reorders
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):  # not an xdist worker
        return
    items[:] = [item for tests in file_order(items) for item in tests]


def file_order(items: list[pytest.Item]) -> list[list[pytest.Item]]:
    """The tests grouped by file, in the order the workers take the files (also what
    scripts/suite_makespan.py replays)."""
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.location[0], []).append(item)
    return sorted(files.values(),
                  key=lambda tests: -sum(t.get_closest_marker("slow") is not None
                                         for t in tests))
