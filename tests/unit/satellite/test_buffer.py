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
