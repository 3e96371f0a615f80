"""What the machine itself does to a latency figure, measured in the same run as it.

Two things no router controls. Waking a sleeping process: a hop through a zmq router is
six wake-ups in a row (the sender's io thread, the router's io thread, the router, its
io thread again, the target's io thread, the target), each as dear as the machine
makes a context switch (on the nested VM this was written on, 70-80 us at the median
whether its vCPUs halt or poll when idle, and whatever the CPU affinity). And pauses:
the host deschedules the guest's vCPUs (``steal`` in ``/proc/stat``), which a busy loop
sees as gaps between two reads of the clock; no priority or affinity inside the guest
avoids them. The benches print these figures beside theirs.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

STEAL = 7  # the 8th figure of /proc/stat's "cpu" line: time the host ran something else


def cpu_times() -> list[int]:
    """The machine's CPU times in jiffies: user .. steal (guest time is inside user)."""
    return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


@contextlib.contextmanager
def steal() -> Iterator[dict[str, float]]:
    """Measure the share of the machine's CPU time the host took (``steal_percent``)
    while the block runs; the figure is in the yielded dict after it."""
    figures: dict[str, float] = {}
    before = cpu_times()
    try:
        yield figures
    finally:
        delta = [b - a for a, b in zip(before, cpu_times(), strict=True)]
        figures["steal_percent"] = round(100 * delta[STEAL] / max(sum(delta), 1), 2)


def pauses(seconds: float = 3.0) -> dict[str, float]:
    """Gaps a busy loop sees between two clock reads for ``seconds``: per second over
    0.5 and over 1 ms, the longest, the share of the time inside gaps over 1 ms (a
    message that arrives then waits for the gap's end) and in all gaps over 0.1 ms. The
    loop holds one vCPU meanwhile: run it when nothing is measured."""
    clock = time.perf_counter_ns
    gaps: list[int] = []
    last = clock()
    end = last + int(seconds * 1e9)
    while last < end:
        now = clock()
        if now - last > 100_000:
            gaps.append(now - last)
        last = now
    return {"pauses_over_0_5ms_per_s": round(sum(g > 500_000 for g in gaps) / seconds, 1),
            "pauses_over_1ms_per_s": round(sum(g > 1_000_000 for g in gaps) / seconds, 1),
            "pause_max_ms": round(max(gaps, default=0) / 1e6, 2),
            "in_pauses_over_1ms_percent": round(
                100 * sum(g for g in gaps if g > 1_000_000) / (seconds * 1e9), 2),
            "paused_percent": round(100 * sum(gaps) / (seconds * 1e9), 2)}


WAKER = """
import os, struct, sys, time
# Blocks in read; on waking takes the time and keeps how long after the writer's
# time stamp that was. Writes the delays (ns) when its input ends.
delays = []
while data := os.read(0, 8):
    delays.append(time.perf_counter_ns() - struct.unpack("q", data)[0])
os.write(1, struct.pack(f"{len(delays)}q", *delays))
"""


def wakeups(samples: int = 500, every_s: float = 0.01) -> dict[str, float]:
    """How long a process asleep in ``read`` takes to run once a pipe has a word for it,
    the writer stamping the word with the time (``perf_counter_ns``, the same clock in
    both), one every ``every_s`` as the latency benches send: p50/p99/max in us."""
    child = subprocess.Popen([sys.executable, "-c", WAKER], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    assert child.stdin is not None
    fd = child.stdin.fileno()
    time.sleep(0.2)  # the child is up and reading
    for _ in range(samples):
        time.sleep(every_s)
        os.write(fd, time.perf_counter_ns().to_bytes(8, sys.byteorder, signed=True))
    out, _ = child.communicate(timeout=30)
    delays = sorted(d / 1e3 for d in struct.unpack(f"{len(out) // 8}q", out))
    return {"wakeup_p50_us": round(statistics.median(delays)),
            "wakeup_p99_us": round(delays[int(len(delays) * 0.99) - 1]),
            "wakeup_max_us": round(delays[-1])}


def describe(figures: dict[str, float]) -> str:
    """One line for a bench's output."""
    return (f"this machine's own wake-ups: a process asleep in read runs "
            f"{figures['wakeup_p50_us']} us after a pipe has a word for it (p50; p99 "
            f"{figures['wakeup_p99_us']} us, max {figures['wakeup_max_us']} us), and a hop "
            f"through a zmq router is six wake-ups in a row\n"
            f"this machine's own pauses: the host held its vCPUs {figures['steal_percent']} % "
            f"of the time during the latency run (steal); a busy loop right after it stood "
            f"still {figures['pauses_over_1ms_per_s']} times a second for over 1 ms "
            f"({figures['pauses_over_0_5ms_per_s']} over 0.5 ms, longest "
            f"{figures['pause_max_ms']} ms), {figures['in_pauses_over_1ms_percent']} % of the "
            f"time inside pauses over 1 ms ({figures['paused_percent']} % in all): a batch "
            f"that meets one is late by it, whatever routes it (p99 is 1 batch in 100)")
