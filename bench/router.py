"""Router figures, in one run on this machine:

* end-to-end datapoints/s from a source through the real broker process to a target,
  with 1,000 routes loaded (10 % wildcard);
* p50/p99 latency at a fixed 10,000 datapoints/s;
* raw pyzmq PUSH/PULL of the same msgpack payloads: the ceiling.

    python bench/router.py [--json] [--batches 1000] [--rounds 5]

Throughput rounds alternate end-to-end and raw, so both see the same noise on this
shared machine; the figures are the medians of the rounds (each round's figure is
printed too), and the ratio is the ratio of the medians.

The source and target are the real wire protocol (DEALER sockets with the instance
ids ``src`` and ``dst``, configured in connections.json but disabled so no simulator
takes their identity). The latency run is repeated through a bare pyzmq relay process
(the broker's socket pattern without routing or store) as the same run's floor.
Targets (issues 3, 16): >= 200,000/s end-to-end, >= 0.35 of raw pyzmq, p99 <= 1 ms
at 10,000/s, zero loss. Prints figures; asserts nothing.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import msgpack
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeos.ipc import addresses, protocol
from edgeos.ipc.broker import dispatch

from bench.common import finish, parser
from tests.integration.daemon import Daemon

BATCH = 1000
EXACT = 900


def routes() -> list[dict]:
    out = [{"id": f"e{i}", "from": f"src.p{i}", "to": f"dst.q{i}"} for i in range(EXACT)]
    out += [{"id": f"w{i}", "from": f"src.w{i}.*", "to": f"dst.w{i}"} for i in range(100)]
    return out


def batch(start: int, ts: int, n: int = BATCH) -> list[list]:
    return [[f"p{(start + i) % EXACT}", start + i, ts, "good", True, None] for i in range(n)]


def dealer(ctx: zmq.Context, run: Path, ident: bytes) -> zmq.Socket:
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, ident)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVHWM, 0)
    sock.connect(addresses.endpoint(run, addresses.BROKER))
    return sock


def end_to_end(run: Path, batches: int) -> tuple[float, int]:
    ctx = zmq.Context.instance()
    src, dst = dealer(ctx, run, b"src"), dealer(ctx, run, b"dst")
    dst.send_multipart([protocol.DP, protocol.pack([])])  # make the broker know dst
    time.sleep(0.5)
    payloads = [protocol.pack(batch(n * BATCH, 0)) for n in range(batches)]
    expected = batches * BATCH
    got = 0

    def receive() -> None:
        nonlocal got
        while got < expected and dst.poll(3000):
            frames = dst.recv_multipart()
            got += len(msgpack.unpackb(frames[1]))

    rx = threading.Thread(target=receive)
    rx.start()
    t0 = time.perf_counter()
    for p in payloads:
        src.send_multipart([protocol.DP, p])
    rx.join()
    elapsed = time.perf_counter() - t0 - (0 if got >= expected else 3.0)
    src.close()
    dst.close()
    return got / elapsed, expected - got


def latency(run: Path, rate: int, seconds: float) -> list[float]:
    ctx = zmq.Context.instance()
    src, dst = dealer(ctx, run, b"src"), dealer(ctx, run, b"dst")
    time.sleep(0.3)
    per_tick, tick = rate // 100, 0.01
    lat: list[float] = []
    stop = threading.Event()

    def receive() -> None:
        while not stop.is_set() or dst.poll(500):
            if not dst.poll(100):
                continue
            now = time.perf_counter_ns()
            for item in msgpack.unpackb(dst.recv_multipart()[1]):
                lat.append((now - item[1]) / 1e6)

    rx = threading.Thread(target=receive)
    rx.start()
    n = 0
    next_at = time.perf_counter()
    end = next_at + seconds
    while next_at < end:
        items = [[f"p{(n + i) % EXACT}", time.perf_counter_ns(), 0, "good", True, None]
                 for i in range(per_tick)]
        src.send_multipart([protocol.DP, protocol.pack(items)])
        n += per_tick
        next_at += tick
        time.sleep(max(0.0, next_at - time.perf_counter()))
    stop.set()
    rx.join()
    src.close()
    dst.close()
    return lat


RELAY = """
import asyncio, sys, zmq

async def main():
    sock = zmq.Context().socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(sys.argv[1])

    def readable():  # the broker's pattern: drain the edge-triggered fd until EAGAIN
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            if frames[0].bytes == b"src":
                try:
                    sock.send_multipart([b"dst", *frames[1:]], zmq.NOBLOCK, copy=False)
                except zmq.ZMQError:
                    pass

    loop = asyncio.get_running_loop()
    loop.add_reader(sock.getsockopt(zmq.FD), readable)
    loop.call_soon(readable)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def relay_latency(rate: int, seconds: float, nice: int) -> list[float]:
    """The same latency run through a bare pyzmq relay process (the broker's socket
    pattern, no routing, no store, same nice): the floor this machine sets right now."""
    run = Path(tempfile.mkdtemp(prefix="relay-"))
    relay = subprocess.Popen([sys.executable, "-c", RELAY,
                              addresses.endpoint(run, addresses.BROKER)])
    try:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, relay.pid, nice)
        time.sleep(1.0)  # bound and reading
        return latency(run, rate, seconds)
    finally:
        relay.kill()
        relay.wait(10)


def raw_pyzmq(batches: int, per_message: int = BATCH) -> float:
    """Items/s moved PUSH -> PULL (ipc) with the consumer unpacking and touching each."""
    ctx = zmq.Context.instance()
    endpoint = f"ipc://{tempfile.mkdtemp(prefix='raw-')}/raw.sock"
    pull = ctx.socket(zmq.PULL)
    pull.bind(endpoint)
    push = ctx.socket(zmq.PUSH)
    push.connect(endpoint)
    items = batches * BATCH
    payloads = [protocol.pack(batch(n * per_message, 0, per_message))
                for n in range(items // per_message)]
    got = 0

    def receive() -> None:
        nonlocal got
        while got < len(payloads) * per_message:
            for item in msgpack.unpackb(pull.recv_multipart()[1]):
                got += item[4]  # touch every item, as the broker must
    rx = threading.Thread(target=receive)
    rx.start()
    t0 = time.perf_counter()
    for p in payloads:
        push.send_multipart([protocol.DP, p])
    rx.join()
    rate = got / (time.perf_counter() - t0)
    push.close()
    pull.close()
    return rate


def main() -> int:
    ap = parser()
    ap.add_argument("--batches", type=int, default=1000, help="of 1,000 datapoints")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--latency-seconds", type=float, default=5)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-router-"))
    conns = [{"id": i, "type": "simulator", "enabled": False, "config": {"profile": "plc"},
              "limits": {"max_pps": 1e9}} for i in ("src", "dst")]
    d = Daemon(root, conns, routes())
    e2e_rounds: list[float] = []
    raw_rounds: list[float] = []
    lost = 0
    try:
        d.start()
        for _ in range(args.rounds):
            rate, missing = end_to_end(d.run, args.batches)
            e2e_rounds.append(rate)
            lost += missing
            raw_rounds.append(raw_pyzmq(args.batches))
        lat = latency(d.run, 10_000, args.latency_seconds)
        broker = d.instance("broker")
        broker_cpu = broker["cpu_percent"]
        floor = relay_latency(10_000, args.latency_seconds, int(broker.get("nice") or 0))
    finally:
        d.stop()
        d.cleanup()
    e2e, raw = statistics.median(e2e_rounds), statistics.median(raw_rounds)
    raw_single = raw_pyzmq(min(args.batches, 100), per_message=1)
    lat.sort()
    floor.sort()
    result = {"end_to_end_per_s": round(e2e), "raw_pyzmq_per_s": round(raw),
              "ratio_to_raw": round(e2e / raw, 3),
              "end_to_end_rounds": [round(r) for r in e2e_rounds],
              "raw_pyzmq_rounds": [round(r) for r in raw_rounds],
              "raw_pyzmq_one_per_message_per_s": round(raw_single),
              "p50_ms": round(statistics.median(lat), 3) if lat else None,
              "p99_ms": round(lat[int(len(lat) * 0.99) - 1], 3) if lat else None,
              "latency_samples": len(lat), "lost": lost, "routes": 1000,
              "relay_p50_ms": round(statistics.median(floor), 3) if floor else None,
              "relay_p99_ms": round(floor[int(len(floor) * 0.99) - 1], 3) if floor else None,
              "relay_samples": len(floor),
              "fast_path": "C" if dispatch.fast_run is not dispatch.fastpath.run else "Python",
              "broker_cpu_percent_last": broker_cpu}
    def rounds(key: str) -> str:
        return ", ".join(f"{r:,}" for r in result[key])

    print(f"end-to-end through the broker (1,000 routes, 10 % wildcard): "
          f"{result['end_to_end_per_s']:,} datapoints/s median (target >= 200,000), "
          f"lost {lost}; rounds {rounds('end_to_end_rounds')}")
    print(f"raw pyzmq PUSH/PULL, same payloads: {result['raw_pyzmq_per_s']:,}/s median; "
          f"rounds {rounds('raw_pyzmq_rounds')}")
    print(f"ratio {result['ratio_to_raw']} (target >= 0.35); broker fast path in "
          f"{result['fast_path']}")
    print(f"(for comparison: raw pyzmq with one datapoint per message "
          f"{result['raw_pyzmq_one_per_message_per_s']:,}/s)")
    print(f"latency at 10,000/s: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms "
          f"(target p99 <= 1 ms), {len(lat)} samples")
    print(f"baseline, same run: a bare pyzmq relay process (no routing, no store): p50 "
          f"{result['relay_p50_ms']} ms, p99 {result['relay_p99_ms']} ms, "
          f"{len(floor)} samples")
    return finish(args, result)


if __name__ == "__main__":
    sys.exit(main())
