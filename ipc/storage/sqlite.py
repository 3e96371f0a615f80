"""Open an SQLite file of ours; a corrupt one is moved aside and started fresh.

A truncated or overwritten database must not keep a process (and everything behind
it) down until a person deletes it (issue 17 item 1, CONTRACT section 10). Whoever
opens one of our databases goes through :func:`open_db`: it opens the file, runs the
caller's schema set-up and a quick integrity check, and on ``sqlite3.DatabaseError``
moves the file (with its ``-wal`` and ``-shm``) to ``<name>.corrupt-<timestamp>``, logs
an error naming the file and the reason, and opens a fresh one. The old file is kept
for a post-mortem, never deleted by us.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeos.ipc import low_power

log = logging.getLogger(__name__)

SIDE_FILES = ("-wal", "-shm", "-journal")


def open_db(path: Path, setup: Callable[[sqlite3.Connection], None] | None = None,
            **connect: Any) -> sqlite3.Connection:
    """A connection to ``path`` with ``setup`` applied (schema, pragmas); the file is
    replaced by a fresh one when it is not a healthy SQLite database."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _open(path, setup, connect)
    except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed", ...
        aside = move_aside(path, str(exc))
        log.error("%s is corrupt (%s): moved aside to %s, starting with an empty one",
                  path, exc, aside.name)
    return _open(path, setup, connect)


def _open(path: Path, setup: Callable[[sqlite3.Connection], None] | None,
          connect: dict[str, Any]) -> sqlite3.Connection:
    db = sqlite3.connect(path, **connect)
    try:
        low_power.small_cache(db)
        row = db.execute("PRAGMA quick_check(1)").fetchone()
        if row is None or row[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check: {row[0] if row else 'no answer'}")
        if setup is not None:
            setup(db)
    except BaseException:
        db.close()
        raise
    return db


def move_aside(path: Path, reason: str) -> Path:
    """Rename ``path`` (and its side files) to ``<name>.corrupt-<UTC timestamp>``; the
    reason goes into a ``.why`` file beside it. Returns the new path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    for suffix in ("", *SIDE_FILES):
        src = path.with_name(path.name + suffix)
        if src.exists():
            os.replace(src, aside.with_name(aside.name + suffix))
    aside.with_name(aside.name + ".why").write_text(reason[:1000] + "\n", encoding="utf-8")
    return aside
