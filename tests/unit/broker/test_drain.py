"""The broker's drain policy (ipc/broker/drain.py).

The policy has no timer: a fake socket (a queue, with a real pipe as its fd so the
drain's look at the fd is real), a fake event loop (a list of turns) and a fake clock
(for the drain's time budget per turn) play it step by step. The defect it fixes, a
message whose wake-up the drain's own last send swallowed, is reproduced with real zmq
sockets on a real event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zmq
from edgeos.ipc.broker.drain import Drain


class FakeFrame(bytes):
    """A received part: its bytes and whether more parts follow."""

    def __new__(cls, data: bytes, more: bool) -> FakeFrame:
        frame = super().__new__(cls, data)
        frame.more = more
        return frame


class FakeSocket:
    """Messages queued in the socket; ``signal()`` is what zmq does to its fd when a
    message arrives while the reader sleeps, and the drain's EVENTS query clears it."""

    def __init__(self) -> None:
        self.queue: list[list[bytes]] = []
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self.reads_per_turn: list[int] = []

    def close(self) -> None:
        os.close(self._r)
        os.close(self._w)

    def arrive(self, *messages: bytes, signal: bool = True) -> None:
        self.queue.extend([b"w", m] for m in messages)
        if signal:
            os.write(self._w, b"x")

    def recv(self, flags: int, copy: bool = True) -> FakeFrame:
        """The next part of the first message queued."""
        if not self.queue:
            self._commands()  # zmq looks at its commands before it says Again
            raise zmq.Again()
        message = self.queue[0]
        part = message.pop(0)
        if not message:
            self.queue.pop(0)
            self.reads_per_turn[-1] += 1
        return FakeFrame(part, bool(message))

    def getsockopt(self, option: int) -> int:
        if option == zmq.FD:
            return self._r
        assert option == zmq.EVENTS
        self._commands()
        return zmq.POLLIN if self.queue else 0

    def _commands(self) -> None:
        """zmq processes the socket's commands: the fd's signal is gone."""
        with contextlib.suppress(BlockingIOError):
            os.read(self._r, 4096)


class Broker:
    """What the broker gives the drain: each message queues one command per byte of
    its body; a flush records the sizes of the batches sent."""

    def __init__(self, sock: FakeSocket, during_send: Callable[[], None] | None = None,
                 ns_per_message: int = 0, cpu_share: float = 1.0, **limits: int) -> None:
        self.sock = sock
        self.queued: list[bytes] = []
        self.sent: list[int] = []
        self.turns: list[Callable[[], None]] = []
        self.counters: defaultdict[str, int] = defaultdict(int)
        self.during_send = during_send
        self.now = self.cpu = 0
        self.ns_per_message = ns_per_message
        self.cpu_share = cpu_share  # of the wall time, the loop thread's on a core
        self.drain = Drain(sock, self.on_message, lambda: len(self.queued), self.flush,
                           self.turns.append, self.counters, clock=lambda: self.now,
                           cpu_clock=lambda: self.cpu, **limits)

    def on_message(self, frames: list[bytes]) -> None:
        self.queued.extend(bytes([b]) for b in frames[1])
        self.now += self.ns_per_message  # the fake clocks: handling takes this long,
        self.cpu += int(self.ns_per_message * self.cpu_share)  # this much on a core

    def flush(self) -> None:
        if self.queued:
            self.sent.append(len(self.queued))
            self.queued.clear()
            if self.during_send is not None:
                self.during_send()

    def wake(self) -> None:
        """The fd signalled: one turn of the loop, then the turns the drain asked for."""
        self.turns.append(self.drain)
        while self.turns:
            self.sock.reads_per_turn.append(0)
            self.turns.pop(0)()


@pytest.fixture
def sock() -> Any:
    s = FakeSocket()
    yield s
    s.close()


def test_a_lone_message_goes_out_as_soon_as_it_is_handled(sock: FakeSocket) -> None:
    b = Broker(sock)
    sock.arrive(b"ab")
    b.wake()
    assert b.sent == [2] and not b.queued  # nothing held back for a later message
    assert b.counters["drains"] == 1 and b.counters["edges_recovered"] == 0


def test_under_load_one_wake_up_sends_everything_queued_as_one_batch(sock: FakeSocket) -> None:
    b = Broker(sock)
    sock.arrive(*[b"abc"] * 50)
    b.wake()
    assert b.sent == [150]  # the batch grows with the load, one send per target


def test_a_big_drain_starts_sending_at_send_at(sock: FakeSocket) -> None:
    b = Broker(sock, send_at=4)
    sock.arrive(*[b"ab"] * 5)
    b.wake()
    assert b.sent == [4, 4, 2]


def test_a_drain_yields_to_the_loop_after_max_messages(sock: FakeSocket) -> None:
    b = Broker(sock, max_messages=3)
    sock.arrive(*[b"a"] * 7)
    b.wake()
    assert sock.reads_per_turn == [3, 3, 1]
    assert b.sent == [3, 3, 1] and not sock.queue


def test_big_batches_yield_to_the_loop_after_the_time_budget(sock: FakeSocket) -> None:
    """Heartbeats and control requests run between turns, however big the batches."""
    b = Broker(sock, ns_per_message=4_000_000, budget_ns=10_000_000)
    sock.arrive(*[b"a"] * 7)
    b.wake()
    assert sock.reads_per_turn == [3, 3, 1]  # 12 ms > 10 ms: the loop turns
    assert b.sent == [3, 3, 1] and b.counters["drain_ns"] == 7 * 4_000_000


def test_the_budget_counts_cpu_not_the_time_a_loaded_machine_takes_away(
        sock: FakeSocket) -> None:
    """Preempted for 9/10 of the wall time, a drain still covers the same messages per
    turn: a wall-clock budget ran out in the first preemption and cut every drain to a
    message or two."""
    b = Broker(sock, ns_per_message=20_000_000, cpu_share=0.1, budget_ns=10_000_000)
    sock.arrive(*[b"a"] * 7)
    b.wake()
    assert sock.reads_per_turn == [5, 2]  # 2 ms of CPU a message: 5 fill the budget
    assert b.counters["drain_ns"] == 7 * 20_000_000
    assert b.counters["drain_cpu_ns"] == 7 * 2_000_000


def test_a_message_arriving_during_the_last_send_is_read_without_a_new_wake_up(
        sock: FakeSocket) -> None:
    arrivals = [b"late"]

    def during_send() -> None:  # zmq handled the arrival's command inside the send
        if arrivals:
            sock.arrive(arrivals.pop(), signal=False)

    b = Broker(sock, during_send=during_send)
    sock.arrive(b"ab")
    b.wake()
    assert b.sent == [2, 4] and not sock.queue
    assert b.counters["edges_recovered"] == 1  # the old drain stopped here until more came


def test_input_the_fd_still_signals_is_not_counted_as_recovered(sock: FakeSocket) -> None:
    arrivals = [b"late"]

    def during_send() -> None:
        if arrivals:
            sock.arrive(arrivals.pop(), signal=True)

    b = Broker(sock, during_send=during_send)
    sock.arrive(b"ab")
    b.wake()
    assert b.sent == [2, 4] and b.counters["edges_recovered"] == 0


def test_a_swallowed_wake_up_with_real_zmq_sockets(tmp_path: Path) -> None:
    """The broker's own situation: a worker's message arrives while the broker sends
    the commands of the previous one, more than zmq's command throttle (about 1 ms)
    after its last read. That send takes the arrival's wake-up; nothing else comes."""
    asyncio.run(_real_zmq(tmp_path))


async def _real_zmq(tmp_path: Path) -> None:
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(f"ipc://{tmp_path}/broker.sock")
    worker = ctx.socket(zmq.DEALER)
    worker.setsockopt(zmq.LINGER, 0)
    worker.setsockopt(zmq.IDENTITY, b"w")
    worker.connect(f"ipc://{tmp_path}/broker.sock")
    loop = asyncio.get_running_loop()
    got: list[bytes] = []
    both = asyncio.Event()
    replies: list[bytes] = []

    def on_message(frames: list[zmq.Frame]) -> None:
        got.append(frames[1].bytes)
        replies.append(frames[0].bytes)
        if len(got) == 2:
            both.set()

    def flush() -> None:
        if got == [b"1"] and replies:
            worker.send(b"2")  # arrives while the broker is still busy sending
            time.sleep(0.05)
        while replies:
            router.send_multipart([replies.pop(), b"ack"])

    drain = Drain(router, on_message, lambda: len(replies), flush, loop.call_soon,
                  defaultdict(int))
    fd = router.getsockopt(zmq.FD)
    loop.add_reader(fd, drain)
    try:
        loop.call_soon(drain)
        worker.send(b"1")
        await asyncio.wait_for(both.wait(), 10)  # liveness: the old drain never got "2"
        assert got == [b"1", b"2"]
        assert drain.counters["edges_recovered"] == 1
    finally:
        loop.remove_reader(fd)
        worker.close()
        router.close()
        ctx.term()
