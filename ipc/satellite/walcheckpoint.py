"""WAL checkpoints of the link's SQLite files, off the event loop.

SQLite's automatic checkpoint runs inside the commit that crosses 1,000 WAL pages and
fsyncs the database there: on the uplink and the gateway that froze the event loop
for tens of milliseconds every few seconds (the live p99 of ``bench/satellite.py``).
Here the owner turns it off (:func:`disable_auto`) and a thread with its own
connection runs a PASSIVE checkpoint (it never blocks the writer: the bulk of the
copying and the database fsync happen there) when the owner has committed enough
since the last one. A writer that never pauses keeps a PASSIVE checkpoint from ever
catching up with the WAL's end, so the WAL would only grow: once it passes
``WAL_MAX`` bytes the thread runs a TRUNCATE checkpoint, which holds the writer only
while it copies the few frames written since the last PASSIVE one. A thread that lags
(a loaded machine starves it, or it finds the writer busy at every try) cannot let the
WAL grow without limit: past ``HARD_FACTOR`` times ``WAL_MAX`` the owner truncates it
itself. Durability is
unchanged: a commit is in the WAL before it returns, as before; only copying the WAL
into the database moved.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger("walcheckpoint")

COMMITS = 50  # commits between checkpoints: short ones, so most catch up with the WAL end
WAL_MAX = 8 * 1024 * 1024  # bytes of WAL before a (short) TRUNCATE checkpoint
HARD_FACTOR = 4  # WAL_MAX times this: the owner checkpoints itself (the thread lags)


def disable_auto(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA wal_autocheckpoint=0")


class Checkpointer:
    """One thread per database file; :meth:`committed` after each write transaction."""

    def __init__(self, path: Path, owner: sqlite3.Connection, every: int = COMMITS) -> None:
        self.path = path
        self.owner = owner
        self.wal = path.with_name(path.name + "-wal")
        self.every = every
        self._since = 0
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"checkpoint {path.name}",
                                        daemon=True)
        self._thread.start()

    def committed(self, n: int = 1) -> None:
        self._since += n
        if self._since >= self.every:
            self._since = 0
            self._wake.set()
            self._backstop()

    def _backstop(self) -> None:
        """The bound that does not depend on the thread: on a loaded machine it may not
        run for a while, or find the writer busy at each try, and the WAL would grow
        without limit. Far past ``WAL_MAX`` the owner truncates it itself (waiting for
        the thread's checkpoint, if one runs, by the connection's busy timeout)."""
        try:
            size = self.wal.stat().st_size
        except FileNotFoundError:
            return
        if size > WAL_MAX * HARD_FACTOR:
            log.warning("WAL of %s at %d bytes: checkpointing in the writer", self.path, size)
            self.owner.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()

    def _run(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stop:
                    return
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if self.wal.exists() and self.wal.stat().st_size > WAL_MAX:
                        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                except sqlite3.OperationalError as exc:  # busy: the next one catches up
                    log.debug("checkpoint of %s skipped: %s", self.path, exc)
        finally:
            db.close()

    def close(self) -> None:
        """Stop the thread; the owner's close then checkpoints what is left."""
        self._stop = True
        self._wake.set()
        self._thread.join(5)
