"""What of the broker's periodic work lands in the latency tail? (issue 16: p99 <= 1 ms
at 10,000 datapoints/s.)

Broker processes, each the real :class:`~edgeos.ipc.broker.broker.Broker` on its event
loop with its once-a-second tick and a once-a-second ``stats()`` (what the heartbeat
reads), no supervisor, the same 1,000 routes as bench/router.py, each a variant (*arm*):

- ``shipped``: the broker as it is;
- ``old_flush``: last values persisted as before issue 16's last item (every row of
  the second encoded on the loop in slices of 100, then SQLite in the executor);
- ``no_flush``: last values never persisted (what the persistence costs at all);

and a bare pyzmq relay (bench/router.py's) as the floor. The probe of bench/router.py
(10,000 datapoints/s: a batch of 100 every 10 ms) visits them in turn in short slices,
so all see the same load on this shared machine. Per arm: hop p50/p99/p99.9/max (end
of the send to the target's wake-up), added over the relay, CPU per batch (schedstat),
and from inside the broker its garbage collections (count and pause per generation,
measured with ``gc.callbacks``) and the longest turns of its loop spent persisting.

    python bench/router_tail.py [--json] [--seconds 20] [--slices 20]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import machine
from bench.broker_process import start_broker
from bench.common import finish, parser, scratch
from bench.router import Probe, quantile, start_relay

BROKER = """
import asyncio, gc, json, sys, time
import zmq
from edgeos.ipc.broker import store
from edgeos.ipc.broker.broker import Broker
from edgeos.ipc.child import InstanceSpec

ARM = sys.argv[2]
pauses = {}  # generation -> [count, total ns, max ns]
started = [0]

def on_gc(phase, info):
    if phase == "start":
        started[0] = time.perf_counter_ns()
        return
    took = time.perf_counter_ns() - started[0]
    figures = pauses.setdefault(info["generation"], [0, 0, 0])
    figures[0] += 1
    figures[1] += took
    figures[2] = max(figures[2], took)

async def old_flush(self):
    # LastValues.flush as it was before this arm's comparison (commit eff22b0)
    async with self._lock:
        taken = []
        for source, unsaved in self.unsaved.items():
            if unsaved:
                taken.append((source, unsaved[:]))
                unsaved.clear()
        rows = []
        budget = 100
        for source, points in taken:
            for point in points:
                if budget == 0:
                    await asyncio.sleep(0)
                    budget = 100
                budget -= 1
                point[2] = False
                entry = point[0]
                try:
                    encoded = json.dumps(entry[1])
                except (TypeError, ValueError):
                    continue
                rows.append((f"{source}.{entry[0]}", encoded, entry[2], entry[3],
                             int(bool(entry[4])), entry[5]))
        if rows:
            await asyncio.get_running_loop().run_in_executor(None, self._write, rows)

async def no_flush(self):
    for unsaved in self.unsaved.values():
        for point in unsaved:
            point[2] = False
        unsaved.clear()

async def stats(broker):
    while True:
        await asyncio.sleep(1.0)
        broker.stats()

stalls = []  # CPU ns of each turn of the loop spent on other work than the drain
handle_run = asyncio.events.Handle._run

def timed_run(self):
    # the loop thread's CPU in one callback; a drain is the hop itself, not a stall
    t0 = time.thread_time_ns()
    handle_run(self)
    took = time.thread_time_ns() - t0
    if not any(self._callback == hop for hop in HOT):
        stalls.append((took, name(self._callback)))

def name(callback):
    # a task's steps and wake-ups by the task's coroutine, else the function
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        return task.get_coro().__qualname__
    return getattr(callback, "__qualname__", type(callback).__name__)

HOT = []  # the drain, as the fd's reader and as its own next turn

async def main():
    asyncio.events.Handle._run = timed_run
    if ARM == "old_flush":
        store.LastValues.flush = old_flush
    elif ARM == "no_flush":
        store.LastValues.flush = no_flush
    broker = Broker(InstanceSpec(**json.loads(sys.argv[1])))
    HOT.extend((broker.drain, broker._on_readable))
    gc.callbacks.append(on_gc)
    loop = asyncio.get_running_loop()
    loop.add_reader(broker.workers.getsockopt(zmq.FD), broker._on_readable)
    loop.call_soon(broker._on_readable)
    tasks = [asyncio.create_task(broker.tick()), asyncio.create_task(stats(broker))]
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # a line or EOF: stop
    for task in tasks:
        task.cancel()
    broker.values.close()
    stalls.sort()
    over = {}  # what the turns over 300 us ran: callback -> count
    for took, name in stalls:
        if took > 300_000:
            over[name] = over.get(name, 0) + 1
    print(json.dumps({"gc": pauses, "counters": dict(broker.counters),
                      "stall_ns": sum(took for took, _ in stalls),
                      "stalls_over_300us": sum(over.values()), "stalls_over_by": over,
                      "stall_max_ns": stalls[-1][0] if stalls else 0,
                      "stall_top": [took for took, _ in stalls[-5:]]}), flush=True)

asyncio.run(main())
"""

ARMS = ("shipped", "old_flush", "no_flush")


def start(root: Path, arm: str) -> tuple[subprocess.Popen[bytes], Path]:
    """A broker process of ``arm``, ready; its run dir."""
    return start_broker(root, arm, BROKER, arm)


def stop(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    """Stop a broker arm; what it measured inside (empty if it did not say)."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    line = proc.stdout.read().decode().strip().splitlines()
    return json.loads(line[-1]) if line else {}


def hop_figures(probe: Probe) -> dict[str, Any]:
    hop = sorted(probe.hop)
    return {"hop_p50_ms": quantile(hop, 0.5), "hop_p99_ms": quantile(hop, 0.99),
            "hop_p999_ms": quantile(hop, 0.999), "hop_max_ms": quantile(hop, 1.0),
            "lost": probe.sent - len(hop),
            "cpu_us_per_batch": round(probe.cpu_ns / max(probe.messages, 1) / 1e3, 1),
            "runqueue_us_per_batch": round(probe.waited_ns / max(probe.messages, 1) / 1e3,
                                           1)}


def gc_figures(inside: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Garbage collections and the loop's turns spent on other work than the drain
    (thread CPU: what a batch arriving then waits for, whatever the load)."""
    out: dict[str, Any] = {
        "other_work_cpu_ms_per_s": round(inside.get("stall_ns", 0) / 1e6 / seconds, 2),
        "other_turns_over_300us": inside.get("stalls_over_300us"),
        "other_turn_max_us": round(inside.get("stall_max_ns", 0) / 1e3, 1),
        "other_turns_top_us": [round(s / 1e3) for s in inside.get("stall_top", [])],
        "other_turns_over_300us_by": inside.get("stalls_over_by", {})}
    for gen, (count, total, longest) in sorted(inside.get("gc", {}).items()):
        out[f"gc{gen}_per_s"] = round(count / seconds, 1)
        out[f"gc{gen}_mean_us"] = round(total / max(count, 1) / 1e3, 1)
        out[f"gc{gen}_max_ms"] = round(longest / 1e6, 3)
    return out


def main() -> int:
    ap = parser()
    ap.add_argument("--seconds", type=float, default=20, help="per arm, in slices")
    ap.add_argument("--slices", type=int, default=20)
    ap.add_argument("--rate", type=int, default=10_000, help="datapoints/s")
    args = ap.parse_args()
    root = scratch("bench-tail-")
    procs: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    probes: dict[str, Probe] = {}
    inside: dict[str, dict[str, Any]] = {}
    relay = None
    t0 = time.monotonic()
    try:
        for arm in ARMS:
            procs[arm] = start(root, arm)
        relay, relay_run = start_relay(0, None)
        for arm, (proc, run) in procs.items():
            probes[arm] = Probe(run, proc.pid)
        probes["relay"] = Probe(relay_run, relay.pid)
        order = [*ARMS, "relay"]
        with machine.steal() as stolen:
            for n in range(args.slices):  # the order turns every slice: none always first
                for arm in order[n % len(order):] + order[:n % len(order)]:
                    probes[arm].send_for(args.rate, args.seconds / args.slices)
        for probe in probes.values():
            probe.close()
    finally:
        for arm, (proc, _) in procs.items():
            inside[arm] = stop(proc)
        if relay is not None:
            relay.kill()
            relay.wait(10)
    elapsed = time.monotonic() - t0
    result: dict[str, Any] = {"rate": args.rate, "seconds_per_arm": args.seconds,
                              "slices": args.slices,
                              "machine": {**stolen, **machine.pauses(), **machine.wakeups()}}
    floor = hop_figures(probes["relay"])
    result["relay"] = floor
    for arm in ARMS:
        figures = {**hop_figures(probes[arm]), **gc_figures(inside[arm], elapsed)}
        for q in ("hop_p50_ms", "hop_p99_ms", "hop_p999_ms"):
            figures[f"added_{q}"] = round(figures[q] - floor[q], 3)
        result[arm] = figures
    for arm in (*ARMS, "relay"):
        f = result[arm]
        gcs = "; ".join(f"gen{g}: {f[f'gc{g}_per_s']}/s, mean {f[f'gc{g}_mean_us']} us, max "
                        f"{f[f'gc{g}_max_ms']} ms" for g in range(3) if f"gc{g}_per_s" in f)
        added = (f" (added p50 {f['added_hop_p50_ms']}, p99 {f['added_hop_p99_ms']}, p99.9 "
                 f"{f['added_hop_p999_ms']})" if arm != "relay" else "")
        print(f"{arm}: hop p50 {f['hop_p50_ms']} ms, p99 {f['hop_p99_ms']} ms, p99.9 "
              f"{f['hop_p999_ms']} ms, max {f['hop_max_ms']} ms{added}; lost {f['lost']}; "
              f"CPU {f['cpu_us_per_batch']} us per batch, run queue "
              f"{f['runqueue_us_per_batch']} us" + (f"; gc {gcs}" if gcs else ""))
        if arm != "relay":
            print(f"  other work on the loop: {f['other_work_cpu_ms_per_s']} ms CPU/s, "
                  f"{f['other_turns_over_300us']} turns over 300 us, longest "
                  f"{f['other_turns_top_us']} us; over 300 us by what ran: "
                  f"{f['other_turns_over_300us_by']}")
    print(machine.describe(result["machine"]))
    return finish(args, result)


if __name__ == "__main__":
    sys.exit(main())
