"""The satellite's on-disk buffer: order, acknowledgement, bounds, reopening."""

from __future__ import annotations

import msgpack
import pytest
from edgeos.ipc import protocol
from edgeos.ipc.satellite.buffer import Buffer, concat


def items(start: int, n: int) -> list[list[object]]:
    return [["c1.seq", i, 0, "good", True, None] for i in range(start, start + n)]


@pytest.mark.parametrize("sizes", [[1], [3, 4], [15, 1], [10, 10], [70_000, 1]])
def test_concat_joins_lists_without_decoding(sizes: list[int]) -> None:
    parts = [protocol.pack(list(range(n))) for n in sizes]
    joined = msgpack.unpackb(concat(parts, sum(sizes)))
    assert joined == [i for n in sizes for i in range(n)]


def test_sequence_read_ack_and_reopen(tmp_path) -> None:
    buf = Buffer(tmp_path, 1 << 20)
    assert buf.append(items(1, 5))[0] == 1
    assert buf.append(items(6, 3))[0] == 6
    first, n, chunk = buf.read(0, 100)
    assert (first, n) == (1, 8) and [i[1] for i in msgpack.unpackb(chunk)] == list(range(1, 9))
    assert buf.read(5, 100)[:2] == (6, 3)  # from the first chunk not wholly acknowledged
    buf.ack(5)
    buf.flush()
    assert buf.backlog == 3
    epoch = buf.epoch
    buf.close()
    again = Buffer(tmp_path, 1 << 20)
    assert (again.epoch, again.acked, again.last_seq) == (epoch, 5, 8)
    assert again.read(5, 100)[:2] == (6, 3)
    assert again.append(items(9, 1))[0] == 9  # numbering goes on


def test_read_stops_at_max_items_but_returns_a_whole_chunk(tmp_path) -> None:
    buf = Buffer(tmp_path, 1 << 20)
    buf.append(items(1, 10))
    buf.append(items(11, 10))
    assert buf.read(0, 5)[:2] == (1, 10)
    assert buf.read(0, 15)[:2] == (1, 10)
    assert buf.read(0, 20)[:2] == (1, 20)


def test_overflow_drops_the_oldest_and_counts_them(tmp_path) -> None:
    buf = Buffer(tmp_path, 20_000)
    for k in range(500):
        buf.append(items(k * 10 + 1, 10))
    assert buf.size <= 20_000
    assert buf.overflow > 0 and buf.acked == buf.overflow  # what was dropped is gone
    first = buf.read(0, 10)[0]
    assert first == buf.overflow + 1
    buf.close()
    assert Buffer(tmp_path, 20_000).overflow == buf.overflow  # persisted


def test_a_write_that_finds_the_buffer_locked_changes_nothing(tmp_path) -> None:
    """Another connection holds the write lock past the busy timeout (what a WAL
    checkpoint on a slow disk did to the uplink in a full test run): the write fails,
    no transaction stays open, nothing is counted, and the same write succeeds later
    with the same sequence numbers."""
    import sqlite3

    buf = Buffer(tmp_path, max_bytes=300)  # small: the next appends drop the oldest
    buf.append([["a.x", 1, 1, "good", True, None]] * 5)
    last, size = buf.last_seq, buf.size
    buf.db.execute("PRAGMA busy_timeout = 50")
    other = sqlite3.connect(tmp_path / "uplink.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            buf.append([["a.x", 2, 2, "good", True, None]] * 20)
        assert not buf.db.in_transaction
        assert (buf.last_seq, buf.size) == (last, size)
    finally:
        other.execute("ROLLBACK")
        other.close()
    first, _ = buf.append([["a.x", 2, 2, "good", True, None]] * 20)
    assert first == last + 1
    buf.ack(buf.last_seq)
    buf.flush()  # a later transaction still works
    buf.close()
