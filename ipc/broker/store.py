"""Last value of every datapoint, in memory, persisted behind to SQLite.

Writes are batched: changed addresses are marked dirty and flushed about once a
second in a worker thread, so the hot path only touches a dict. On start the file is
read back, so last values survive a restart of the broker or the daemon (they keep
their old ``ts``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# A stored value is the wire item itself: [path, value, ts_ms, quality, ack, unit, ...]
# (path relative to its instance), so the hot path stores without copying.
Entry = list[Any]


class LastValues:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, Entry] = {}
        self.dirty: set[str] = set()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS last_values (address TEXT PRIMARY KEY, "
                         "value TEXT, ts INTEGER, quality TEXT, ack INTEGER, unit TEXT)")
        self._lock = asyncio.Lock()

    def restore(self) -> int:
        """Load what was persisted; returns the number of datapoints restored."""
        rows = self._db.execute("SELECT address, value, ts, quality, ack, unit FROM last_values")
        for address, value, ts, quality, ack, unit in rows:
            try:
                decoded = json.loads(value)
            except (TypeError, ValueError):
                continue
            path = address.split(".", 1)[1] if "." in address else address
            self.values[address] = [path, decoded, ts, quality, bool(ack), unit]
        return len(self.values)

    def _write(self, rows: list[tuple[Any, ...]], gone: list[str]) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO last_values VALUES (?,?,?,?,?,?)", rows)
            self._db.executemany("DELETE FROM last_values WHERE address=?",
                                 [(a,) for a in gone])

    async def flush(self) -> None:
        """Persist dirty entries (in a thread; the event loop keeps routing)."""
        if not self.dirty:
            return
        async with self._lock:
            dirty, self.dirty = self.dirty, set()
            rows, gone = [], []
            for address in dirty:
                entry = self.values.get(address)
                if entry is None:
                    gone.append(address)
                    continue
                try:
                    encoded = json.dumps(entry[1])
                except (TypeError, ValueError):
                    continue  # blobs and other non-JSON values are not persisted
                rows.append((address, encoded, entry[2], entry[3], int(bool(entry[4])),
                             entry[5]))
            await asyncio.get_running_loop().run_in_executor(None, self._write, rows, gone)

    def close(self) -> None:
        self._db.close()
