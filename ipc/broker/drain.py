"""How the broker reads its worker socket: drain, batch, send, and look again.

A zmq socket's fd is edge-triggered: it signals when the socket's command mailbox gets
something, and any call on the socket (a send too) may process those commands and
clear the signal. So the loop must read until nothing is queued (it asks ``EVENTS``
before each read: a read that finds nothing raises ``Again``, a cold exception per
drain) before it waits on the fd, and a *send* after the last read may swallow the
wake-up of a message that came in meanwhile. The old drain ended with exactly such a
send (the commands it produced): the message then sat in the socket until some later
message woke the broker (10 ms later at 100 batches/s, and never when nothing else
came: the latency bench lost whole seconds of datapoints on a loaded machine). Now the
drain asks the socket for ``POLLIN`` after its last send and reads on when anything is
queued.

The policy, which :class:`Drain` keeps and the tests check with a fake socket:

- read without awaiting between messages, at most ``max_messages`` and for at most
  ``budget_ns`` of the loop thread's CPU time per turn of the event loop (then yield to
  the other tasks and continue on the next turn). The budget matters for big batches:
  256 messages of 1,000 datapoints are 0.4 s of CPU here, several seconds on a loaded
  machine, and a loop that long without a turn missed its heartbeats until the
  supervisor killed the broker as hung (the throughput bench lost what was queued).
  It counts CPU, not wall time: on a loaded machine a wall-clock budget ran out in the
  first preemption and cut drains to a message or two, a cost only the load decided
  (bench/drain_budget.py compares: at load ~20 here the three policies differed by
  less than the run-to-run noise); 20 ms of CPU is still a fraction of a second of
  wall time under any load this machine saw;
- the commands the messages produced are sent once ``send_at`` are queued (targets
  start while the broker still reads) and at the end of the drain: under load a drain
  covers many messages, so the batches grow with the load and no timer ever holds
  one back; at a low rate each message goes out as soon as it is handled;
- after the last send, input queued during it is read on the next turn.
"""

from __future__ import annotations

import select
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import zmq

NOBLOCK = int(zmq.NOBLOCK)
EVENTS, POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)  # ints: `&` on pyzmq's flags is enum code
DRAIN_MAX = 256  # messages handled per wake-up before yielding to other tasks
DRAIN_BUDGET_NS = 20_000_000  # nor longer than this: heartbeats and control run between
SEND_AT = 1000  # queued commands sent during a drain once this many: targets start early


def receive(sock: Any) -> list[Any]:
    """One multipart message as frames (``zmq.Again`` when none is queued): pyzmq's
    ``recv_multipart`` without its enum flags and a ``getsockopt(RCVMORE)`` per part,
    a third of its CPU (measured here: 93 against 60 us cold, 31 against 21 us warm)."""
    parts = [sock.recv(NOBLOCK, copy=False)]
    while parts[-1].more:
        parts.append(sock.recv(NOBLOCK, copy=False))
    return parts


class Drain:
    """The reader of one edge-triggered zmq socket, called when its fd signals.

    ``on_message`` handles one multipart message, ``queued`` says how many commands
    wait, ``flush`` sends them, ``call_soon`` schedules the next turn (the event
    loop's), ``clock`` is the monotonic clock in ns and ``cpu_clock`` the loop
    thread's CPU time in ns (the budget's; a test's fakes). ``counters``
    gets ``drains`` (wake-ups that read something), ``drain_ns`` (their time from
    wake-up to the end of the last send, summed: the broker's receive-to-send),
    ``drain_cpu_ns`` (the CPU the loop's thread spent in them: the difference is time
    it waited for a core or the GIL) and ``edges_recovered`` (input found after the
    last send that the fd no longer signalled: each one a message the old drain
    stalled)."""

    def __init__(self, sock: Any, on_message: Callable[[list[Any]], None],
                 queued: Callable[[], int], flush: Callable[[], None],
                 call_soon: Callable[[Callable[[], None]], Any],
                 counters: defaultdict[str, int], max_messages: int = DRAIN_MAX,
                 send_at: int = SEND_AT, budget_ns: int = DRAIN_BUDGET_NS,
                 clock: Callable[[], int] = time.perf_counter_ns,
                 cpu_clock: Callable[[], int] = time.thread_time_ns) -> None:
        self.sock = sock
        self.on_message = on_message
        self.queued = queued
        self.flush = flush
        self.call_soon = call_soon
        self.counters = counters
        self.max_messages = max_messages
        self.send_at = send_at
        self.budget_ns = budget_ns
        self.clock = clock
        self.cpu_clock = cpu_clock
        self._fd = select.poll()
        self._fd.register(sock.getsockopt(zmq.FD), select.POLLIN)

    def __call__(self) -> None:
        t0, cpu0 = self.clock(), self.cpu_clock()
        until = cpu0 + self.budget_ns
        sock = self.sock
        read = 0
        more = False  # stopped by a limit: the rest is read on the next turn
        while not more:
            # ask before reading: a read that finds nothing raises zmq.Again, and
            # raising and catching it was ~10 us of CPU per drain (warm; 2.4 us the ask)
            if not sock.getsockopt(EVENTS) & POLLIN:
                break
            try:
                frames = receive(sock)
            except zmq.Again:  # POLLIN means a whole message is queued; a guard only
                break
            read += 1
            self.on_message(frames)
            if self.queued() >= self.send_at:
                self.flush()
            more = read == self.max_messages or self.cpu_clock() >= until
        self.flush()
        if not more:  # the fd first: asking for EVENTS clears its signal
            signalled = bool(self._fd.poll(0))
            if sock.getsockopt(EVENTS) & POLLIN:
                more = True
                self.counters["edges_recovered"] += not signalled
        if more:
            self.call_soon(self)
        if read:
            self.counters["drains"] += 1
            self.counters["drain_ns"] += self.clock() - t0
            self.counters["drain_cpu_ns"] += self.cpu_clock() - cpu0
