"""The satellite's on-disk buffer: every datapoint, numbered, until the core has it.

``<data>/uplink.db`` (SQLite, WAL). A *chunk* is one row: the sequence number of its
first datapoint, how many it holds, and the datapoints as one msgpack list (stored as
the link sends them). Sequence numbers grow by one per datapoint for the lifetime of
the file (its *epoch*, a random id made with it, so a core never confuses a fresh
buffer with an old one). A datapoint counts as sent only once it is committed here,
and it is deleted only after the core acknowledged it (cumulatively).

The buffer is bounded (``satellite.buffer_mb``): when full, the oldest chunks go and
the datapoints they held are counted as ``overflow``, persisted with the rest.
WAL with ``synchronous=NORMAL`` survives a killed process; after a power cut the last
fraction of a second may be missing, never a corrupt file. Checkpoints run in a thread
(:mod:`~edgeos.ipc.satellite.walcheckpoint`), never inside an append.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from edgeos.ipc import low_power, protocol
from edgeos.ipc.satellite.walcheckpoint import Checkpointer, disable_auto

FILE = "uplink.db"


def concat(chunks: list[bytes], total: int) -> bytes:
    """Join msgpack lists into one list of ``total`` items without decoding them."""
    if len(chunks) == 1:
        return chunks[0]
    bodies = [_body(c) for c in chunks]
    if total < 16:
        head = bytes([0x90 | total])
    elif total < 65536:
        head = b"\xdc" + total.to_bytes(2, "big")
    else:
        head = b"\xdd" + total.to_bytes(4, "big")
    return head + b"".join(bodies)


def _body(chunk: bytes) -> bytes:
    """A msgpack list's items, without its header."""
    first = chunk[0]
    if 0x90 <= first <= 0x9F:
        return chunk[1:]
    if first == 0xDC:
        return chunk[3:]
    if first == 0xDD:
        return chunk[5:]
    raise ValueError(f"not a msgpack list (header byte 0x{first:02x})")


class Buffer:
    """Append, read in order, acknowledge; all on one SQLite connection."""

    def __init__(self, data_dir: Path, max_bytes: int) -> None:
        self.path = Path(data_dir) / FILE
        self.max_bytes = max_bytes
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.path.chmod(0o600)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        low_power.small_cache(self.db)
        disable_auto(self.db)
        self.db.execute("CREATE TABLE IF NOT EXISTS chunks (first INTEGER PRIMARY KEY, "
                        "n INTEGER NOT NULL, data BLOB NOT NULL)")
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v)")
        meta = dict(self.db.execute("SELECT k, v FROM meta"))
        if "epoch" not in meta:
            meta = {"epoch": secrets.token_hex(8), "acked": 0, "overflow": 0}
            self.db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        self.epoch: str = meta["epoch"]
        self.acked: int = int(meta["acked"])
        self.overflow: int = int(meta["overflow"])
        last = self.db.execute("SELECT first + n - 1 FROM chunks ORDER BY first DESC "
                               "LIMIT 1").fetchone()
        self.last_seq: int = max(self.acked, last[0] if last else 0)
        self.size: int = self.db.execute(
            "SELECT COALESCE(SUM(LENGTH(data)), 0) FROM chunks").fetchone()[0]
        self._deleted_upto = self.acked
        self.checkpoints = Checkpointer(self.path, self.db)

    @property
    def backlog(self) -> int:
        """Datapoints buffered and not yet acknowledged."""
        return self.last_seq - self.acked

    def append(self, items: list[list[object]]) -> tuple[int, bytes]:
        """Store ``items`` as one chunk (committed when this returns); returns their first
        sequence number and the chunk as stored."""
        data = protocol.pack(items)
        first = self.last_seq + 1
        if self.size + len(data) <= self.max_bytes:  # one statement: its own transaction
            self.db.execute("INSERT INTO chunks VALUES (?, ?, ?)", (first, len(items), data))
            self.size += len(data)
        else:
            with self._transaction():
                self.db.execute("INSERT INTO chunks VALUES (?, ?, ?)",
                                (first, len(items), data))
                self.size += len(data)
                self._drop_oldest()
        self.checkpoints.committed()
        self.last_seq = first + len(items) - 1
        return first, data

    def _drop_oldest(self) -> None:
        """Delete the oldest chunks until a tenth of the bound is free (inside a write)."""
        target = self.max_bytes * 9 // 10
        rows = self.db.execute("SELECT first, n, LENGTH(data) FROM chunks ORDER BY first")
        dropped, upto, freed = 0, self.acked, 0
        for first, n, length in rows:
            if self.size - freed <= target:
                break
            dropped += n
            freed += length
            upto = first + n - 1
        self.db.execute("DELETE FROM chunks WHERE first <= ?", (upto,))
        self.size -= freed
        self.overflow += dropped
        self.acked = max(self.acked, upto)
        self._deleted_upto = self.acked
        self.db.executemany("UPDATE meta SET v = ? WHERE k = ?",
                            [(self.overflow, "overflow"), (self.acked, "acked")])

    def read(self, after: int, max_items: int) -> tuple[int, int, bytes] | None:
        """The datapoints from ``after + 1`` on, at most ``max_items`` (always at least a
        whole chunk): ``(first_seq, count, msgpack list)``, or None if none are stored."""
        rows = self.db.execute("SELECT first, n, data FROM chunks WHERE first + n - 1 > ? "
                               "ORDER BY first LIMIT 256", (after,)).fetchall()
        if not rows:
            return None
        first = rows[0][0]
        chunks: list[bytes] = []
        total = 0
        expect = first
        for row_first, n, data in rows:
            if row_first != expect or (chunks and total + n > max_items):
                break
            chunks.append(data)
            total += n
            expect = row_first + n
        return first, total, concat(chunks, total)

    def ack(self, upto: int) -> None:
        """The core has everything up to ``upto`` (deleted at the next :meth:`flush`)."""
        if upto > self.acked:
            self.acked = min(upto, self.last_seq)

    def flush(self) -> None:
        """Delete acknowledged chunks (batched: one write per call, not per ack)."""
        if self.acked == self._deleted_upto:
            return
        with self._transaction():
            freed = self.db.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM chunks "
                                    "WHERE first + n - 1 <= ?", (self.acked,)).fetchone()[0]
            self.db.execute("DELETE FROM chunks WHERE first + n - 1 <= ?", (self.acked,))
            self.db.execute("UPDATE meta SET v = ? WHERE k = 'acked'", (self.acked,))
        self.checkpoints.committed()
        self.size -= freed
        self._deleted_upto = self.acked

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT, rolled back (memory figures too) if a statement fails: a
        write that waited past the busy timeout (a checkpoint on a slow disk) must
        leave no transaction open, or every later write fails ("cannot start a
        transaction within a transaction")."""
        kept = self.size, self.overflow, self.acked, self._deleted_upto
        self.db.execute("BEGIN")
        try:
            yield
            self.db.execute("COMMIT")
        except sqlite3.Error:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            self.size, self.overflow, self.acked, self._deleted_upto = kept
            raise

    def close(self) -> None:
        self.flush()
        self.checkpoints.close()
        self.db.close()  # the last connection: checkpoints the rest, removes the WAL
