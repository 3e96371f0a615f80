"""The supervisor's error store opened on demand (issue 16, RSS: sqlite3 out of an idle
supervisor): the file is checked by the validation helper at start (a real helper
process, a real SQLite file), the store connects only for an add, a listing or a count
whose window reaches the newest error, and answers as a store opened at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from edgeos.supervisor import errors
from edgeos.supervisor.errors import WINDOW_S, ErrorStore, newest_error
from edgeos.supervisor.validator_process import ValidatorProcess

HOUR_MS = 3_600_000
WINDOW_MS = WINDOW_S * 1000


@pytest.fixture
def helper() -> Iterator[ValidatorProcess]:
    check = ValidatorProcess()
    errors.check_elsewhere(check.newest_error)
    yield check
    errors.check_elsewhere(None)
    check.close()


def seeded(path: Path, *stamps: int) -> None:
    store = ErrorStore(path)
    for n, ts in enumerate(stamps):
        store.add(f"w{n}", "simulator", "boom", None, False, ts=ts)
    store.close()


def test_helper_answers_the_newest_error(helper: ValidatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "system_logs.db"
    assert helper.newest_error(path) is None  # made and set up there: no errors yet
    assert path.exists() and newest_error(path) is None
    seeded(path, HOUR_MS, 5 * HOUR_MS, 3 * HOUR_MS)
    assert helper.newest_error(path) == newest_error(path) == 5 * HOUR_MS


def test_no_connection_while_nothing_is_in_the_window(helper: ValidatorProcess,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "system_logs.db"
    t0 = 1_000 * HOUR_MS
    seeded(path, t0, t0 + HOUR_MS)
    store = ErrorStore(path, on_demand=True)
    assert helper.proc is not None  # checked in the helper
    assert store.counts(t0 + HOUR_MS + WINDOW_MS + 1) == {}
    assert store._db is None  # nothing read here
    # a count whose window reaches the newest error reads the file, as at once
    assert store.counts(t0 + HOUR_MS + WINDOW_MS) == {"w1": 1}
    assert store._db is not None
    assert store.counts(t0 + 2 * HOUR_MS) == {"w0": 1, "w1": 1}
    store.close()


def test_an_add_or_a_listing_connects(helper: ValidatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "system_logs.db"
    store = ErrorStore(path, on_demand=True)
    assert store.counts(HOUR_MS) == {} and store._db is None
    assert store.recent() == [] and store._db is not None
    store.close()
    store = ErrorStore(path, on_demand=True)
    assert store._db is None
    store.add("a", "simulator", "boom", None, False, ts=HOUR_MS)
    assert store.counts(HOUR_MS) == {"a": 1}
    store.close()
    assert [r["instance"] for r in ErrorStore(path).recent()] == ["a"]


def test_without_a_helper_the_store_opens_at_once(tmp_path: Path) -> None:
    store = ErrorStore(tmp_path / "system_logs.db", on_demand=True)
    assert store._db is not None
    store.close()


def test_a_corrupt_file_is_moved_aside_by_the_helper(helper: ValidatorProcess,
                                                     tmp_path: Path) -> None:
    path = tmp_path / "system_logs.db"
    path.write_bytes(b"not a database at all, " * 100)
    store = ErrorStore(path, on_demand=True)
    assert len(list(tmp_path.glob("system_logs.db.corrupt-*"))) >= 1
    assert store.counts(HOUR_MS) == {} and store._db is None
    store.add("a", None, "boom", None, False, ts=HOUR_MS)  # the fresh file takes it
    assert store.counts(HOUR_MS) == {"a": 1}
    store.close()
