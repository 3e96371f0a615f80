"""Where the broker's CPU goes per drain at a fixed rate (issue 16: router p99 <= 1 ms).

A real :class:`~edgeos.ipc.broker.broker.Broker` in its own process (the 1,000 routes
of bench/router.py, a SUB socket of another process on its change feed, as the
historian), fed by bench/router.py's probe (a batch of rate/100 datapoints every
10 ms). Inside, each phase of the drain is wrapped to add up the loop thread's CPU
(``time.thread_time_ns``): receive, decode, dispatch (store, route, queue: the C fast
path), the rest of the message's handling, the commands' encoding and send, the change
feed's send, and what is left of the drain (its clocks, counters, the look for input
after the last send). Printed per drain, beside the broker process's CPU per batch
(schedstat: its zmq I/O thread too), and the hop p50/p99 over both rates; the
wrappers cost two clock reads per phase (about a microsecond each here: ``clock_us``).

Two rates in the same run, alternating slices, split the cost into a fixed part per
drain and a part per datapoint (the slope between them).

    python bench/drain_profile.py [--json] [--seconds 10] [--slices 10]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.broker_process import start_broker
from bench.common import finish, parser
from bench.router import Probe, quantile

BROKER = """
import asyncio, json, sys, time
import zmq
from edgeos.ipc.broker import broker as broker_mod, drain as drain_mod
from edgeos.ipc.broker.broker import Broker
from edgeos.ipc.child import InstanceSpec

clock = time.thread_time_ns
spent = {}  # phase -> CPU ns

def timed(name, fn):
    def run(*args):
        t0 = clock()
        try:
            return fn(*args)
        finally:
            spent[name] = spent.get(name, 0) + clock() - t0
    return run

async def main():
    broker = Broker(InstanceSpec(**json.loads(sys.argv[1])))
    drain_mod.receive = timed("receive", drain_mod.receive)
    broker._decode = timed("decode", broker._decode)
    broker.dispatch.batch = timed("dispatch", broker.dispatch.batch)
    if hasattr(broker_mod, "pack_commands"):
        broker_mod.pack_commands = timed("encode_commands", broker_mod.pack_commands)
    else:  # before commands were queued encoded (an A/B against an older tree)
        broker_mod.protocol.pack = timed("encode_commands", broker_mod.protocol.pack)
    send = broker_mod.send_parts
    broker_mod.send_parts = lambda sock, parts, copy=True: timed(
        "send_commands" if sock is broker.workers else "send_feed", send)(sock, parts, copy)
    drain = broker.drain
    drain.on_message = timed("message", broker._on_message)
    drain.flush = timed("flush", drain.flush)
    whole = timed("drain", type(drain).__call__)
    loop = asyncio.get_running_loop()
    reader = lambda: whole(drain)
    drain.call_soon = lambda turn: loop.call_soon(reader)
    loop.add_reader(broker.workers.getsockopt(zmq.FD), reader)
    loop.call_soon(reader)
    tick = asyncio.create_task(broker.tick())
    print("ready", flush=True)
    marks = []  # (drains, phases) at each line on stdin: the slices
    while await loop.run_in_executor(None, sys.stdin.readline):
        marks.append((broker.counters["drains"], dict(spent)))
        print(json.dumps(marks[-1]), flush=True)
    tick.cancel()
    broker.values.close()

asyncio.run(main())
"""

SUB = """
import sys, zmq
sock = zmq.Context().socket(zmq.SUB)
sock.connect(sys.argv[1])
sock.setsockopt(zmq.SUBSCRIBE, b"")
print("ready", flush=True)
while True:
    sock.recv_multipart()
"""

PHASES = ("receive", "decode", "dispatch", "message_rest", "encode_commands",
          "send_commands", "send_feed", "flush_rest", "drain_rest", "drain")


def clock_cost() -> float:
    """CPU us of one ``thread_time_ns`` here (the wrappers' cost: two per phase)."""
    n = 20_000
    t0 = time.thread_time_ns()
    for _ in range(n):
        time.thread_time_ns()
    return round((time.thread_time_ns() - t0) / n / 1e3, 2)


def phases(spent: dict[str, int], drains: int) -> dict[str, float]:
    """us per drain of each phase; the rests are what the named phases leave."""
    per = {k: v / max(drains, 1) / 1e3 for k, v in spent.items()}
    per["message_rest"] = per.get("message", 0) - per.get("decode", 0) - per.get("dispatch", 0)
    per["flush_rest"] = per.get("flush", 0) - sum(
        per.get(k, 0) for k in ("encode_commands", "send_commands", "send_feed"))
    per["drain_rest"] = per.get("drain", 0) - sum(
        per.get(k, 0) for k in ("receive", "message", "flush"))
    return {k: round(per.get(k, 0), 1) for k in PHASES}


def main() -> int:
    ap = parser()
    ap.add_argument("--seconds", type=float, default=10, help="per rate, in slices")
    ap.add_argument("--slices", type=int, default=10)
    ap.add_argument("--rates", type=int, nargs=2, default=(1_000, 10_000))
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-drain-profile-"))
    sub = None
    proc, run = start_broker(root, "broker", BROKER)
    assert proc.stdin is not None and proc.stdout is not None
    spent: dict[int, dict[str, int]] = {rate: {} for rate in args.rates}
    drains = dict.fromkeys(args.rates, 0)
    cpu = dict.fromkeys(args.rates, 0)
    batches = dict.fromkeys(args.rates, 0)
    probe = None
    try:
        sub = subprocess.Popen([sys.executable, "-c", SUB, f"ipc://{run}/changes.sock"],
                               stdout=subprocess.PIPE)
        assert sub.stdout is not None
        sub.stdout.readline()
        probe = Probe(run, proc.pid)  # one: the target has one identity

        def mark() -> tuple[int, dict[str, int]]:
            proc.stdin.write(b"mark\n")
            proc.stdin.flush()
            return json.loads(proc.stdout.readline())

        last = mark()
        for _ in range(args.slices):
            for rate in args.rates:
                cpu0, sent0 = probe.cpu_ns, probe.messages
                probe.send_for(rate, args.seconds / args.slices)
                cpu[rate] += probe.cpu_ns - cpu0
                batches[rate] += probe.messages - sent0
                time.sleep(0.05)  # the last batch's drain is over
                now = mark()
                drains[rate] += now[0] - last[0]
                for k, v in now[1].items():
                    spent[rate][k] = spent[rate].get(k, 0) + v - last[1].get(k, 0)
                last = now
        probe.close()
    finally:
        proc.stdin.close()
        proc.wait(20)
        if sub is not None:
            sub.kill()
            sub.wait()
        shutil.rmtree(root)
    assert probe is not None
    hop = sorted(probe.hop)
    result: dict[str, Any] = {"clock_us": clock_cost(), "hop_p50_ms": quantile(hop, 0.5),
                              "hop_p99_ms": quantile(hop, 0.99), "lost": probe.sent - len(hop)}
    for rate in args.rates:
        result[str(rate)] = {
            "per_drain_us": phases(spent[rate], drains[rate]), "drains": drains[rate],
            "process_cpu_us_per_batch": round(cpu[rate] / max(batches[rate], 1) / 1e3, 1)}
    low, high = (result[str(r)]["per_drain_us"]["drain"] for r in args.rates)
    items = [r // 100 for r in args.rates]
    per_item = (high - low) / (items[1] - items[0])
    result["per_datapoint_us"] = round(per_item, 2)
    result["fixed_per_drain_us"] = round(low - per_item * items[0], 1)
    for rate in args.rates:
        r = result[str(rate)]
        print(f"{rate:,}/s ({rate // 100} per batch, {r['drains']} drains): CPU us per drain "
              f"{r['per_drain_us']}; broker process {r['process_cpu_us_per_batch']} us per "
              f"batch")
    print(f"hop (both rates) p50 {result['hop_p50_ms']} ms, p99 {result['hop_p99_ms']} ms; "
          f"lost {result['lost']}")
    print(f"per drain: fixed {result['fixed_per_drain_us']} us + {result['per_datapoint_us']} "
          f"us per datapoint (wrappers: {result['clock_us']} us per clock read, 2 per phase)")
    return finish(args, result)


if __name__ == "__main__":
    sys.exit(main())
