"""Router figures, in one run on this machine:

* end-to-end datapoints/s from a source through the real broker process to a target,
  with 1,000 routes loaded (10 % wildcard), through a daemon as it comes (its historian
  stores the whole change feed) and one without a historian, in alternating rounds;
* p50/p99 latency at a fixed 10,000 datapoints/s, and where it goes;
* raw pyzmq PUSH/PULL of the same msgpack payloads: the ceiling.

    python bench/router.py [--json] [--batches 1000] [--rounds 5]

Throughput rounds alternate end-to-end and raw, so both see the same noise on this
shared machine; the figures are the medians of the rounds (each round's figure is
printed too), and the ratio is the ratio of the medians.

The source and target are the real wire protocol (DEALER sockets with the instance
ids ``src`` and ``dst``, configured in connections.json but disabled so no simulator
takes their identity). The latency run alternates in slices (``--slices``) between the
broker and a bare pyzmq relay process (the broker's socket pattern without routing or
store), so the relay is the floor under the same load, and the figure that survives a
loaded machine is the broker's *added* latency over it. Beside it: lost and late
datapoints (late: still underway when the next batch was sent), the CPU each router
spends per batch, the publisher's share, the broker's own wake-up-to-send time per
drain and how often it found input that came in during its last send (its counters),
and the machine's own share (bench/machine.py: how long waking a sleeping process takes,
the host's steal during the run, the gaps a busy loop sees right after it).
Targets (issues 3, 16): >= 200,000/s end-to-end, >= 0.35 of raw pyzmq, p99 <= 1 ms
at 10,000/s, zero loss. Prints figures; asserts nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeos.ipc import addresses, protocol
from edgeos.ipc.broker import dispatch

from bench import machine
from bench.beats import row_after
from bench.common import finish, parser, scratch
from tests.integration.daemon import Daemon

log = logging.getLogger("bench.router")

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


def daemon_pids(d: Daemon) -> dict[str, int]:
    """The processes of a daemon that take the change feed or route it, by instance id
    (the supervisor as ``supervisor``)."""
    pids = {i["id"]: i["pid"] for i in d.status()["instances"]
            if i.get("pid") and i["id"] in ("broker", "historian", "admin-ui")}
    assert d.proc is not None
    return {**pids, "supervisor": d.proc.pid}


def cpu_of(pids: dict[str, int]) -> dict[str, int]:
    """ns on a CPU so far, per process (a process that ended counts 0)."""
    out = {}
    for name, pid in pids.items():
        try:
            out[name] = schedstat(pid)[0]
        except OSError:
            out[name] = 0
    return out


def end_to_end_cpu(d: Daemon, batches: int, cpu: dict[str, int]) -> tuple[float, int]:
    """:func:`end_to_end`, adding each of the daemon's processes' CPU ns to ``cpu``: on
    two cores the historian's share is CPU the broker and the target do not get."""
    pids = daemon_pids(d)
    before = cpu_of(pids)
    result = end_to_end(d.run, batches)
    for name, ns in cpu_of(pids).items():
        cpu[name] = cpu.get(name, 0) + ns - before[name]
    return result


def cpu_per_1000(cpu: dict[str, int], datapoints: int) -> dict[str, float]:
    return {name: round(ns / 1e3 / datapoints * 1000, 1) for name, ns in cpu.items()}


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


def schedstat(pid: int) -> tuple[int, int]:
    """(ns on a CPU, ns runnable but waiting for one) summed over a process's threads:
    what it cost and what the machine's load made it wait, to the nanosecond."""
    cpu = waited = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that just ended
            on_cpu, on_queue, _ = (task / "schedstat").read_text().split()
            cpu += int(on_cpu)
            waited += int(on_queue)
    return cpu, waited


def quantile(ordered: list[float], q: float) -> float | None:
    return round(ordered[max(0, int(len(ordered) * q) - 1)], 3) if ordered else None


RECEIVER = """
import sys, time, msgpack, zmq

# The target of a latency probe, a process of its own (a thread beside the sender waited
# for the GIL). It blocks in poll and takes the time first thing on waking; then it
# decodes. One record per message: [wake-up ns, [[value, ts] of each item]] (the
# value is the item's creation time, ts the number of the send it came in).
ctx = zmq.Context()
sock = ctx.socket(zmq.DEALER)
sock.setsockopt(zmq.IDENTITY, b"dst")
sock.setsockopt(zmq.LINGER, 0)
sock.setsockopt(zmq.RCVHWM, 0)
sock.connect(sys.argv[1])
poller = zmq.Poller()
poller.register(sock, zmq.POLLIN)
poller.register(0, zmq.POLLIN)  # stdin: a line or its end means stop
records = []
stopping = False
sys.stdout.write("ready\\n")
sys.stdout.flush()
while True:
    ready = dict(poller.poll(500 if stopping else None))
    now = time.perf_counter_ns()
    if sock in ready:
        while True:  # all that is queued was there at this wake-up
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            records.append([now, [[i[1], i[2]] for i in msgpack.unpackb(frames[1])]])
    elif stopping:
        break  # nothing for 0.5 s: what has not come is lost
    if 0 in ready:
        sys.stdin.readline()
        poller.unregister(0)
        stopping = True
with open(sys.argv[2], "wb") as out:
    out.write(msgpack.packb(records))
"""


class Probe:
    """Latency through one router (the broker or the bare relay): the sender here, the
    target a process of its own (:data:`RECEIVER`), the sending done in slices
    (:meth:`send_for`) so that the two routers take turns and see the same load.

    Per datapoint two figures: from its creation to the target's wake-up, and the
    router's hop, from the end of the send that carried it to that wake-up (the
    publisher's share, building the batch and sending it, is the difference); per slice
    the router process's CPU seconds, for the CPU cost of a message independent of the
    machine's load. ``perf_counter_ns`` is CLOCK_MONOTONIC: the same clock in both
    processes."""

    def __init__(self, run: Path, pid: int) -> None:
        endpoint = addresses.endpoint(run, addresses.BROKER)
        self.src = dealer(zmq.Context.instance(), run, b"src")
        self.pid = pid
        self.results = scratch("probe-") / "records"
        self.rx = subprocess.Popen([sys.executable, "-c", RECEIVER, endpoint,
                                    str(self.results)], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE)
        assert self.rx.stdout is not None
        self.rx.stdout.readline()  # "ready": connected, or connecting
        time.sleep(0.3)  # the router knows dst
        self.sent_ns: list[int] = []  # per send: when it returned
        self.lat: list[float] = []
        self.hop: list[float] = []
        self.sent = self.messages = self.publish_ns = self.cpu_ns = self.waited_ns = 0

    def send_for(self, rate: int, seconds: float) -> None:
        """``rate`` datapoints/s for ``seconds``: a batch of rate/100 every 10 ms."""
        cpu0, waited0 = schedstat(self.pid)
        per_tick, tick = rate // 100, 0.01
        next_at = time.perf_counter()
        end = next_at + seconds
        n = self.sent
        while next_at < end:
            seq = len(self.sent_ns)
            items = [[f"p{(n + i) % EXACT}", time.perf_counter_ns(), seq, "good", True, None]
                     for i in range(per_tick)]
            self.src.send_multipart([protocol.DP, protocol.pack(items)])
            sent_at = time.perf_counter_ns()
            self.sent_ns.append(sent_at)
            self.publish_ns += sum(sent_at - item[1] for item in items)
            n += per_tick
            self.messages += 1
            next_at += tick
            time.sleep(max(0.0, next_at - time.perf_counter()))
        self.sent = n
        cpu, waited = schedstat(self.pid)
        self.cpu_ns += cpu - cpu0
        self.waited_ns += waited - waited0

    def close(self) -> None:
        """Stop the target once nothing came for 0.5 s (what has not come is lost) and
        read its records."""
        self.src.close()
        assert self.rx.stdin is not None
        try:
            self.rx.stdin.write(b"stop\n")
            self.rx.stdin.close()
            self.rx.wait(60)
        finally:
            if self.rx.poll() is None:
                self.rx.kill()
                self.rx.wait()
        for woke, items in msgpack.unpackb(self.results.read_bytes()):
            for created, seq in items:
                self.lat.append((woke - created) / 1e6)
                self.hop.append((woke - self.sent_ns[seq]) / 1e6)

    def figures(self, prefix: str, late_ms: float) -> dict[str, Any]:
        lat, hop = sorted(self.lat), sorted(self.hop)
        return {f"{prefix}p50_ms": round(statistics.median(lat), 3) if lat else None,
                f"{prefix}p99_ms": quantile(lat, 0.99), f"{prefix}max_ms": quantile(lat, 1.0),
                f"{prefix}hop_p50_ms": round(statistics.median(hop), 3) if hop else None,
                f"{prefix}hop_p99_ms": quantile(hop, 0.99),
                f"{prefix}hop_max_ms": quantile(hop, 1.0),
                f"{prefix}samples": len(lat), f"{prefix}latency_lost": self.sent - len(lat),
                f"{prefix}late": sum(x > late_ms for x in lat),
                f"{prefix}publish_us_mean": round(self.publish_ns / max(self.sent, 1) / 1e3, 1),
                f"{prefix}cpu_us_per_message": round(self.cpu_ns / max(self.messages, 1) / 1e3,
                                                     1),
                f"{prefix}runqueue_us_per_message": round(
                    self.waited_ns / max(self.messages, 1) / 1e3, 1)}


RELAY = """
import asyncio, sys, zmq

async def main():
    sock = zmq.Context().socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(sys.argv[1])

    NOBLOCK, MORE = int(zmq.NOBLOCK), int(zmq.NOBLOCK | zmq.SNDMORE)
    EVENTS, POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)

    def readable():  # the broker's pattern: drain the edge-triggered fd while EVENTS
        while sock.getsockopt(EVENTS) & POLLIN:  # says POLLIN (no Again raised), its
            frames = [sock.recv(NOBLOCK, copy=False)]  # calls: int flags, Frame.more
            while frames[-1].more:
                frames.append(sock.recv(NOBLOCK, copy=False))
            if frames[0].bytes == b"src":
                try:
                    sock.send(b"dst", MORE)
                    for frame in frames[1:-1]:
                        sock.send(frame, MORE, copy=False)
                    sock.send(frames[-1], NOBLOCK, copy=False)
                except zmq.ZMQError:
                    pass

    loop = asyncio.get_running_loop()
    loop.add_reader(sock.getsockopt(zmq.FD), readable)
    loop.call_soon(readable)
    await asyncio.Event().wait()

asyncio.run(main())
"""


CPU_FILES = {"v1": ("cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us"),
             "v2": ("cpu.weight", "cpu.max")}


def cpu_group(pid: int) -> tuple[str, Path] | None:
    """The cgroup that holds ``pid``'s CPU weight and quota: (version, directory)."""
    root = Path("/sys/fs/cgroup")
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            return "v1", root / controllers / path.lstrip("/")
        if controllers == "" and (root / "cgroup.controllers").exists():
            return "v2", root / path.lstrip("/")
    return None


@contextlib.contextmanager
def group_beside(pid: int) -> Iterator[Path | None]:
    """A cgroup beside ``pid``'s with the same CPU weight and quota, for the relay: the
    supervisor puts the broker in a group of its own, and under load a group competes
    as one task among the machine's others (its nice counts only inside it), so a
    relay left in the bench's group is not scheduled alike. None without cgroups (not
    root, no cpu controller): the figures then say where the relay ran. Removed after."""
    found = cpu_group(pid)
    group = None
    if found is not None:
        version, own = found
        group = own.parent / f"bench-relay-{os.getpid()}"
        try:
            group.mkdir()
            for name in CPU_FILES[version]:
                (group / name).write_text((own / name).read_text())
        except OSError as exc:
            log.warning("the relay runs outside the broker's cgroup: %s", exc)
            with contextlib.suppress(OSError):
                group.rmdir()
            group = None
    try:
        yield group
    finally:
        if group is not None:
            group.rmdir()


def start_relay(nice: int, group: Path | None) -> tuple[subprocess.Popen[bytes], Path]:
    """A bare pyzmq relay process (the broker's socket pattern, no routing, no store,
    the broker's nice and CPU group): the floor this machine sets right now."""
    run = scratch("relay-")
    relay = subprocess.Popen([sys.executable, "-c", RELAY,
                              addresses.endpoint(run, addresses.BROKER)])
    if group is not None:
        (group / "cgroup.procs").write_text(str(relay.pid))
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, relay.pid, nice)
    time.sleep(1.0)  # bound and reading
    return relay, run


def bus(d: Daemon) -> dict[str, Any]:
    """The broker's counters as of its first heartbeat from now on (its totals ride along
    with the beats, once per heartbeat_s or when a rate moved: bench/beats.py)."""
    return row_after(d, "broker", time.monotonic())[0].get("bus") or {}


def interleaved_latency(d: Daemon, rate: int, seconds: float, slices: int) -> dict[str, Any]:
    """The latency run through the broker and through the bare relay in alternating
    slices of the same run, so both see the same load; the broker's own counters say
    how long it held a batch (wake-up to the last send, per drain) and how often input
    came in during its last send (``edges_recovered``: each one a batch that used to
    wait for the next message)."""
    broker = d.instance("broker")
    with group_beside(broker["pid"]) as group:
        result = _interleaved(d, broker, group, rate, seconds, slices)
    result["relay_cgroup"] = "beside the broker's" if group is not None else "the bench's"
    return result


def _interleaved(d: Daemon, broker: dict[str, Any], group: Path | None, rate: int,
                 seconds: float, slices: int) -> dict[str, Any]:
    relay, relay_run = start_relay(int(broker.get("nice") or 0), group)
    try:
        before = bus(d)
        ours, floor = Probe(d.run, broker["pid"]), Probe(relay_run, relay.pid)
        try:
            for _ in range(slices):
                ours.send_for(rate, seconds / slices)
                floor.send_for(rate, seconds / slices)
        finally:
            ours.close()
            floor.close()
        after = bus(d)
    finally:
        relay.kill()
        relay.wait(10)
    late_ms = 1000 * 100 / rate  # held at least until the next batch was sent
    result = {**ours.figures("", late_ms), **floor.figures("relay_", late_ms)}
    drains = after.get("drains", 0) - before.get("drains", 0)
    result.update(
        late_ms=late_ms,
        broker_hold_us_mean=round((after.get("drain_ns", 0) - before.get("drain_ns", 0))
                                  / max(drains, 1) / 1e3, 1),
        broker_hold_cpu_us_mean=round((after.get("drain_cpu_ns", 0)
                                       - before.get("drain_cpu_ns", 0)) / max(drains, 1) / 1e3, 1),
        broker_drains=drains,
        edges_recovered=after.get("edges_recovered", 0) - before.get("edges_recovered", 0))
    for q in ("p50", "p99", "hop_p50", "hop_p99"):
        a, b = result[f"{q}_ms"], result[f"relay_{q}_ms"]
        result[f"added_{q}_ms"] = None if a is None or b is None else round(a - b, 3)
    return result


def raw_pyzmq(batches: int, per_message: int = BATCH) -> float:
    """Items/s moved PUSH -> PULL (ipc) with the consumer unpacking and touching each."""
    ctx = zmq.Context.instance()
    endpoint = f"ipc://{scratch('raw-')}/raw.sock"
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


def print_latency(r: dict[str, Any]) -> None:
    print(f"latency at 10,000/s through the broker, the router's hop (end of the send to "
          f"the target's wake-up, another process): p50 {r['hop_p50_ms']} ms, p99 "
          f"{r['hop_p99_ms']} ms (target p99 <= 1 ms), max {r['hop_max_ms']} ms; from each "
          f"datapoint's creation: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max "
          f"{r['max_ms']} ms; {r['samples']} samples, lost {r['latency_lost']}, later than "
          f"the next batch ({r['late_ms']:g} ms) {r['late']}")
    print(f"baseline, same run, in alternating slices: a bare pyzmq relay process (no "
          f"routing, no store; cgroup {r['relay_cgroup']}): hop p50 {r['relay_hop_p50_ms']} "
          f"ms, p99 {r['relay_hop_p99_ms']} ms, max {r['relay_hop_max_ms']} ms; from "
          f"creation p50 {r['relay_p50_ms']} ms, p99 {r['relay_p99_ms']} ms; "
          f"{r['relay_samples']} samples, lost {r['relay_latency_lost']}, late "
          f"{r['relay_late']}")
    print(f"added by the broker over the relay: hop p50 {r['added_hop_p50_ms']} ms, p99 "
          f"{r['added_hop_p99_ms']} ms (from creation: p50 {r['added_p50_ms']} ms, p99 "
          f"{r['added_p99_ms']} ms); per batch of 100: CPU broker {r['cpu_us_per_message']} "
          f"us, relay {r['relay_cpu_us_per_message']} us; waiting for a core (the load): "
          f"broker {r['runqueue_us_per_message']} us, relay "
          f"{r['relay_runqueue_us_per_message']} us")
    print(f"where a datapoint waits: publisher (creation to send returned) "
          f"{r['publish_us_mean']} us mean; broker wake-up to its last send "
          f"{r['broker_hold_us_mean']} us per drain, of which on CPU "
          f"{r['broker_hold_cpu_us_mean']} us ({r['broker_drains']} drains); input found "
          f"after the last send (edges_recovered: each a batch that waited for the next one "
          f"before) {r['edges_recovered']}; the rest is the hops and wake-ups the relay "
          f"pays too")
    print(f"this machine's wake-up cost: a zmq send and receive (inproc) takes "
          f"{r['wakeup_warm_us']} us of CPU back to back and {r['wakeup_cold_us']} us after "
          f"10 ms asleep (median): what every hop pays at 100 messages/s here")
    print(machine.describe(r))


def wakeup_cost(samples: int = 200) -> dict[str, float]:
    """CPU of one zmq send + receive, back to back and after 10 ms of sleep, alternating:
    at 100 messages/s every message meets cold caches and a sleeping io thread, and on
    this VM that, not the Python, is most of a relay's CPU per message."""
    ctx = zmq.Context.instance()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    a.bind("inproc://wakeup-cost")
    b.connect("inproc://wakeup-cost")
    payload = protocol.pack(batch(0, 0, 100))
    warm: list[int] = []
    cold: list[int] = []
    for i in range(2 * samples):
        if i % 2:
            time.sleep(0.01)
        t0 = time.thread_time_ns()
        b.send_multipart([protocol.DP, payload])
        a.recv_multipart()
        (cold if i % 2 else warm).append(time.thread_time_ns() - t0)
    a.close()
    b.close()
    return {"wakeup_warm_us": round(statistics.median(warm) / 1e3, 1),
            "wakeup_cold_us": round(statistics.median(cold) / 1e3, 1)}


def main() -> int:
    ap = parser()
    ap.add_argument("--batches", type=int, default=1000, help="of 1,000 datapoints")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--latency-seconds", type=float, default=5, help="per router")
    ap.add_argument("--slices", type=int, default=5, help="turns each router takes")
    args = ap.parse_args()
    root = scratch("bench-router-")
    conns = [{"id": i, "type": "simulator", "enabled": False, "config": {"profile": "plc"},
              "limits": {"max_pps": 1e9}} for i in ("src", "dst")]
    d = Daemon(root, conns, routes())
    # the same without the historian (issue 16 was measured before there was one): it
    # takes the whole change feed into SQLite, on the same two cores
    bare = Daemon(root / "no-historian", conns, routes(),
                  settings={"history": {"enabled": False}})
    e2e_rounds: list[float] = []
    bare_rounds: list[float] = []
    e2e_cpu: dict[str, int] = {}
    bare_cpu: dict[str, int] = {}
    raw_rounds: list[float] = []
    lost = 0
    try:
        d.start()
        bare.start()
        for n in range(args.rounds):  # which daemon goes first turns every round
            for daemon, figures, cpu in [(d, e2e_rounds, e2e_cpu),
                                         (bare, bare_rounds, bare_cpu)][::1 - 2 * (n % 2)]:
                rate, missing = end_to_end_cpu(daemon, args.batches, cpu)
                figures.append(rate)
                lost += missing
            raw_rounds.append(raw_pyzmq(args.batches))
        bare.stop()
        broker_cpu = d.instance("broker")["cpu_percent"]
        with machine.steal() as stolen:
            lat = interleaved_latency(d, 10_000, args.latency_seconds, args.slices)
        lat.update(stolen, **wakeup_cost(), **machine.pauses(), **machine.wakeups())
    finally:
        for daemon in (d, bare):
            if daemon.proc is not None and daemon.proc.poll() is None:
                daemon.stop()
            daemon.cleanup()
    e2e, raw = statistics.median(e2e_rounds), statistics.median(raw_rounds)
    bare_e2e = statistics.median(bare_rounds)
    raw_single = raw_pyzmq(min(args.batches, 100), per_message=1)
    result = {"end_to_end_per_s": round(e2e), "raw_pyzmq_per_s": round(raw),
              "ratio_to_raw": round(e2e / raw, 3),
              "end_to_end_rounds": [round(r) for r in e2e_rounds],
              "end_to_end_no_historian_per_s": round(bare_e2e),
              "ratio_to_raw_no_historian": round(bare_e2e / raw, 3),
              "end_to_end_no_historian_rounds": [round(r) for r in bare_rounds],
              "raw_pyzmq_rounds": [round(r) for r in raw_rounds],
              "raw_pyzmq_one_per_message_per_s": round(raw_single),
              "cpu_us_per_1000": cpu_per_1000(e2e_cpu, args.rounds * args.batches * BATCH),
              "cpu_us_per_1000_no_historian": cpu_per_1000(
                  bare_cpu, args.rounds * args.batches * BATCH),
              **lat, "latency_samples": lat["samples"], "lost": lost, "routes": 1000,
              "fast_path": "C" if dispatch.fast_run is not dispatch.fastpath.run else "Python",
              "broker_cpu_percent_last": broker_cpu}
    def rounds(key: str) -> str:
        return ", ".join(f"{r:,}" for r in result[key])

    print(f"end-to-end through the broker (1,000 routes, 10 % wildcard): "
          f"{result['end_to_end_per_s']:,} datapoints/s median (target >= 200,000), "
          f"lost {lost}; rounds {rounds('end_to_end_rounds')}")
    print(f"the same without the historian (as when issue 16 was filed; same run, "
          f"alternating): {result['end_to_end_no_historian_per_s']:,} datapoints/s median, "
          f"ratio {result['ratio_to_raw_no_historian']}; rounds "
          f"{rounds('end_to_end_no_historian_rounds')}")
    print(f"raw pyzmq PUSH/PULL, same payloads: {result['raw_pyzmq_per_s']:,}/s median; "
          f"rounds {rounds('raw_pyzmq_rounds')}")
    print(f"ratio {result['ratio_to_raw']} (target >= 0.35); broker fast path in "
          f"{result['fast_path']}")
    print(f"CPU per 1,000 datapoints end to end, per process (us): with the historian "
          f"{result['cpu_us_per_1000']}; without {result['cpu_us_per_1000_no_historian']} "
          f"(two cores: what the historian takes, the broker and the target wait for)")
    print(f"(for comparison: raw pyzmq with one datapoint per message "
          f"{result['raw_pyzmq_one_per_message_per_s']:,}/s)")
    print_latency(result)
    return finish(args, result)


if __name__ == "__main__":
    sys.exit(main())
