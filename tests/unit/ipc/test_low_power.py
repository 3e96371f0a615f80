"""The child processes' side of LOW_POWER: poll intervals multiplied at any depth of an
instance's config (nothing else touched), smaller bounds, small SQLite caches, and the
environment the supervisor sets for its children."""

from __future__ import annotations

import argparse
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from edgeos.ipc import low_power
from edgeos.supervisor import low_power as supervisor_side


@pytest.fixture

def lean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(low_power.ENV, low_power.LOW_POWER)


def test_every_poll_interval_is_multiplied_and_nothing_else() -> None:
    config = {"host": "127.0.26.1", "poll_interval_s": 1, "timeout_s": 1.5,
              "registers": [{"name": "a", "poll_interval_s": 0.5}, {"name": "b"}],
              "meters": [{"address": 5, "extra": {"poll_interval_s": 3}}],
              "flag": {"poll_interval_s": True}, "text": "poll_interval_s"}
    scaled = low_power.scale_polls(config, 2.0)
    assert scaled == {"host": "127.0.26.1", "poll_interval_s": 2.0, "timeout_s": 1.5,
                      "registers": [{"name": "a", "poll_interval_s": 1.0}, {"name": "b"}],
                      "meters": [{"address": 5, "extra": {"poll_interval_s": 6.0}}],
                      "flag": {"poll_interval_s": True}, "text": "poll_interval_s"}
    assert config["registers"][0]["poll_interval_s"] == 0.5  # the spec's copy untouched
    assert low_power.scale_polls(config, 1.0) is config


def test_depth_is_bounded() -> None:
    deep: dict = {"poll_interval_s": 1}
    for _ in range(100):
        deep = {"x": deep}
    assert low_power.scale_polls(deep, 2.0) is not None  # no recursion error


def test_balanced_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(low_power.ENV, "BALANCED")
    assert low_power.poll_multiplier() == 1.0
    assert low_power.sized(100, 10) == 100
    assert low_power.effects() == {}


def test_low_power_bounds_and_effects(lean: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEOS_FORKSERVER", "off")
    assert low_power.poll_multiplier() == low_power.POLL_MULTIPLIER == 2.0
    assert low_power.sized(100, 10) == 10
    assert low_power.effects() == {"poll_multiplier": 2.0, "sqlite_cache_kib": 256,
                                   "small_queues": True, "forkserver": False}


def test_sqlite_cache_shrinks_only_on_low_power(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeos.ipc.storage.sqlite import open_db

    monkeypatch.setenv(low_power.ENV, "BALANCED")
    db = open_db(tmp_path / "a.db")
    default = db.execute("PRAGMA cache_size").fetchone()[0]
    db.close()
    monkeypatch.setenv(low_power.ENV, low_power.LOW_POWER)
    db = open_db(tmp_path / "b.db")
    assert db.execute("PRAGMA cache_size").fetchone()[0] == -256 != default
    db.close()
    raw = sqlite3.connect(tmp_path / "c.db")
    low_power.small_cache(raw)
    assert raw.execute("PRAGMA cache_size").fetchone()[0] == -256
    raw.close()


def _args() -> argparse.Namespace:
    return argparse.Namespace(low_power=True, performance=None, headless=False)


def test_supervisor_tells_children(unset_env: Callable[[str], None]) -> None:
    unset_env(low_power.ENV)
    unset_env("EDGEOS_FORKSERVER")
    supervisor_side.apply(_args(), "BALANCED")
    assert low_power.ENV in os.environ
    assert not low_power.active()
    supervisor_side.apply(_args(), "LOW_POWER")
    assert low_power.active()
    assert "EDGEOS_FORKSERVER" not in os.environ  # the zygote pays off here too
    assert supervisor_side.effects()["forkserver"] is True


def test_an_explicit_forkserver_choice_stands(monkeypatch: pytest.MonkeyPatch,
                                             unset_env: Callable[[str], None]) -> None:
    unset_env(low_power.ENV)
    monkeypatch.setenv("EDGEOS_FORKSERVER", "off")
    supervisor_side.apply(_args(), "LOW_POWER")
    assert low_power.effects()["forkserver"] is False
