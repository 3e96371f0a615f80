"""The errors count per instance (Instances card, Errors page, the 1 Hz stats pass):
answered from memory between changes, and still exact when an error is recorded or
leaves the 24 h window. A real SQLite file; times passed in, no clock."""

from __future__ import annotations

from pathlib import Path

from edgeos.supervisor.errors import WINDOW_S, ErrorStore

HOUR_MS = 3_600_000
WINDOW_MS = WINDOW_S * 1000


def test_counts_follow_new_errors_and_the_window(tmp_path: Path) -> None:
    store = ErrorStore(tmp_path / "system_logs.db")
    t0 = 1_000 * HOUR_MS
    store.add("a", "simulator", "boom", None, False, ts=t0)
    store.add("b", "simulator", "bang", None, False, ts=t0 + HOUR_MS)
    assert store.counts(t0 + 2 * HOUR_MS) == {"a": 1, "b": 1}
    store.add("a", "simulator", "boom", None, False, ts=t0 + 60_000)  # a repeat
    assert store.counts(t0 + 2 * HOUR_MS) == {"a": 2, "b": 1}
    store.add("c", "modbus", "gone", None, True, ts=t0 + 3 * HOUR_MS)  # a new one
    assert store.counts(t0 + 3 * HOUR_MS) == {"a": 2, "b": 1, "c": 1}
    # the repeat moved a's last occurrence: a leaves the window 24 h after it
    assert store.counts(t0 + 60_000 + WINDOW_MS) == {"a": 2, "b": 1, "c": 1}
    assert store.counts(t0 + 60_001 + WINDOW_MS) == {"b": 1, "c": 1}
    assert store.counts(t0 + HOUR_MS + WINDOW_MS + 1) == {"c": 1}
    assert store.counts(t0 + 3 * HOUR_MS + WINDOW_MS + 1) == {}
    assert store.counts(t0 + 2 * HOUR_MS) == {"a": 2, "b": 1, "c": 1}  # asked for earlier
    assert store.counts(t0 + 3 * HOUR_MS + 30_000, window_s=60) == {"c": 1}  # another window
    store.close()


def test_an_answer_is_a_copy(tmp_path: Path) -> None:
    store = ErrorStore(tmp_path / "system_logs.db")
    store.add("a", None, "boom", None, False, ts=HOUR_MS)
    first = store.counts(HOUR_MS)
    first["a"] = 99
    assert store.counts(HOUR_MS) == {"a": 1}
    store.close()
