"""The LOW_POWER profile as every child process sees it (the supervisor's side is
:mod:`edgeos.supervisor.low_power`; docs/satellites.md lists what it changes).

The supervisor puts the chosen profile in ``EDGEOS_PROFILE`` before it starts any
child, so the broker, the uplink and every worker (also one forked from a template,
which gets the supervisor's environment) read it from their environment. On LOW_POWER:

* every ``poll_interval_s`` in an instance's config, at any depth (the device's, a
  register's, a meter's, a symbol rule's), is multiplied by the poll multiplier
  (``low_power.poll_multiplier`` in ``edgeos.json``, checked by the supervisor and
  passed in ``EDGEOS_POLL_MULTIPLIER``; :data:`POLL_MULTIPLIER` when not set)
  before the worker reads it, so a worker reports (``poll_interval_s`` in its
  datapoints' meta, ``poll_multiplier`` in its stats) what it really does;
* in-memory queues are smaller (:func:`sized`): a worker's outbox while the broker is
  away, the uplink's change queue while the disk is busy;
* each SQLite connection keeps a page cache of :data:`SQLITE_CACHE_KIB` instead of
  SQLite's 2 MB (the on-disk buffer keeps its size: only memory shrinks).
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3

ENV = "EDGEOS_PROFILE"
LOW_POWER = "LOW_POWER"
POLL_MULTIPLIER = 2.0  # a Pi Zero polls half as often: half the bus and CPU time
POLL_ENV = "EDGEOS_POLL_MULTIPLIER"  # edgeos.json's low_power.poll_multiplier, checked
POLL_MIN, POLL_MAX = 1.0, 10.0
SQLITE_CACHE_KIB = 256  # per connection; SQLite's default is 2,000 KiB
POLL_KEY = "poll_interval_s"
MAX_DEPTH = 16  # configs are schema-checked and shallow; bounded all the same


def active() -> bool:
    """Whether this process runs under the LOW_POWER profile."""
    return os.environ.get(ENV) == LOW_POWER


def poll_multiplier() -> float:
    """The factor for poll intervals: 1 unless LOW_POWER; there the configured one
    (the supervisor checked it; a value out of bounds here is clamped, never trusted)."""
    if not active():
        return 1.0
    try:
        value = float(os.environ.get(POLL_ENV) or POLL_MULTIPLIER)
    except ValueError:
        value = POLL_MULTIPLIER
    return min(max(value, POLL_MIN), POLL_MAX) if math.isfinite(value) else POLL_MULTIPLIER


def sized(normal: int, low_power: int) -> int:
    """A bound on an in-memory queue or ring: the smaller one on LOW_POWER."""
    return low_power if active() else normal


def scale_polls(config: Any, factor: float, depth: int = 0) -> Any:
    """A copy of ``config`` with every ``poll_interval_s`` (a number, at any depth)
    multiplied by ``factor``; everything else as it was."""
    if factor == 1.0 or depth > MAX_DEPTH:
        return config
    if isinstance(config, dict):
        return {k: v * factor if k == POLL_KEY and _number(v)
                else scale_polls(v, factor, depth + 1) for k, v in config.items()}
    if isinstance(config, list):
        return [scale_polls(v, factor, depth + 1) for v in config]
    return config


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def small_cache(db: sqlite3.Connection) -> None:
    """On LOW_POWER: this connection's page cache down to SQLITE_CACHE_KIB."""
    if active():
        db.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")


def effects() -> dict[str, Any]:
    """What this profile changes, for ``edgectl status`` (empty when not LOW_POWER)."""
    if not active():
        return {}
    return {"poll_multiplier": poll_multiplier(), "sqlite_cache_kib": SQLITE_CACHE_KIB,
            "small_queues": True,
            "forkserver": os.environ.get("EDGEOS_FORKSERVER") != "off"}
