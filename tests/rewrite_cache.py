"""Rewrite the test modules' asserts once, before the pytest-xdist workers start.

Each worker collects the whole suite itself, and pytest rewrites the asserts of every
test module it imports, caching the result as a ``.pyc`` beside it. In a fresh clone
(CI) there is no cache yet and the workers start together, so every worker rewrote
every module: about 12 s of CPU each of its 16 s of collection (docs/suite-time.md),
once per worker on 2 cores. The controller, idle until then, writes the cache first; the workers
find it (pytest checks each ``.pyc`` against its source's hash).

Uses pytest's own rewrite and cache-writing functions (private, hence the pin of
pytest below 10 in pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _pytest.assertion.rewrite import (
    PYC_TAIL,
    _read_pyc,
    _rewrite_test,
    _write_pyc,
    assertstate_key,
    get_cache_dir,
    try_makedirs,
)


def modules(args: list[str], cwd: Path) -> list[Path]:
    """The test modules and conftests under the run's arguments (relative to ``cwd``)."""
    found: set[Path] = set()
    for arg in args:
        path = (cwd / arg.split("::")[0]).resolve()
        if path.is_dir():
            found.update(p for p in path.rglob("*.py")
                         if p.name == "conftest.py" or p.name.startswith("test_"))
        elif path.suffix == ".py":
            found.add(path)
    return sorted(found)


def prewarm(config: pytest.Config) -> int:
    """Write the rewritten ``.pyc`` of every module that has none up to date; how many."""
    state = config.stash[assertstate_key]
    written = 0
    for fn in modules(config.args, config.invocation_params.dir):
        cache_dir = get_cache_dir(fn)
        pyc = cache_dir / (fn.name[:-3] + PYC_TAIL)
        if not try_makedirs(cache_dir) or _read_pyc(fn, pyc, state.trace) is not None:
            continue
        source_hash, co = _rewrite_test(fn, config)
        written += _write_pyc(state, co, source_hash, pyc)
    return written


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """On the controller of an xdist run only: the workers start after this hook."""
    if hasattr(config, "workerinput") or not config.getoption("numprocesses", None):
        return
    if config.getoption("assertmode") != "rewrite":
        return
    prewarm(config)
