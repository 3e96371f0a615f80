"""Satellite link figures, in one run on this machine (issue 12):

* live latency p50/p99 from the satellite's device to the core's broker at 200
  datapoints/s (a counter simulator; ``ts`` set by the worker, arrival seen by a
  subscriber of the core's change feed: the same wall clock), with this satellite
  alone on the core (the LOW_POWER one starts afterwards);
* cut detection (``detect_s``: the core marks the satellite offline; the satellite's
  own figure is ``detect_satellite_s``), resume after the restore (``resume_s``: first
  live value on the core), and the catch-up rate of the backlog of a ``--outage``
  second cut at 500 datapoints/s (``catchup_per_s``);
* ``lost`` and ``duplicated`` over the whole counter series that reached the core;
* ``curve_ratio``: DEALER -> ROUTER over loopback TCP with CURVE versus plain, the
  same 2,000-datapoint chunks, alternating rounds in this run;
* the satellite's memory: PSS and RSS of each process, the total of supervisor,
  broker, uplink and the simulator worker (``satellite_pss_mb``) and of every process
  (``satellite_pss_all_mb``); the same for a second satellite on the LOW_POWER
  profile beside it (``low_power_pss_mb``, ``low_power_pss_all_mb``); threads of
  every process and their sum (``satellite_threads``, ``low_power_threads``); the
  baseline of the same run: the BALANCED satellite with every process exec'd
  (``EDGEOS_FORKSERVER=off``, no zygote: ``satellite_pss_exec_mb``,
  ``satellite_pss_all_exec_mb``), the checkout's bytecode compiled first as an
  installed package has it; the same totals with shared pages divided among the
  node's own processes only (``satellite_node_pss_mb``, ``..._all_mb``,
  ``low_power_node_pss_mb``, ``satellite_node_pss_exec_mb``): on this machine a
  core, a second satellite and other sessions map the same libraries and lower the
  kernel's PSS below what a Pi Zero running one node pays;
* where live latency goes: ``sat_local_p99_ms`` (device -> the satellite's own broker,
  the baseline of this machine's load in the same run) and ``link_p50_ms`` /
  ``link_p99_ms`` (the same values from the satellite's broker to the core's: uplink,
  buffer commit, CURVE link, gateway, core broker): the link's own added latency,
  judged against that baseline, with the load average (``loadavg_live``) beside;
* what the link costs in the same window, a figure load does not move much: CPU
  seconds per 10,000 datapoints of the uplink and the gateway
  (``uplink_cpu_s_per_10k``, ``gateway_cpu_s_per_10k``) beside those of the satellite's
  broker, the core's broker and the worker, one hop each (the baseline);
* the LOW_POWER satellite's own live latency, straight to the core's port (no relay
  in this process), and the first satellite's through the relay in the same window
  (``direct_low_power_p50_ms`` / ``_p99_ms``, ``relayed_beside_it_p50_ms`` / ``_p99_ms``);
* the on-disk buffer's append time at 200 commits/s, with SQLite's own checkpoints in
  the commit (the baseline) and with checkpoints in a thread (what the uplink does):
  ``append_max_ms`` / ``append_max_ms_autocheckpoint`` and how many appends took over
  10 ms (``append_stalls`` / ``append_stalls_autocheckpoint``).

    python bench/satellite.py [--json] [--outage 60] [--live-seconds 10] [--memory-only]

The link runs through a TCP relay in this process (cut = silence on both ends, as a
pulled cable); two real ``edgeos`` daemons with their own dirs on 127.0.0.x.
Targets: catch-up >= 20,000/s, p99 <= 20 ms, detection <= 3 s, resume <= 2 s, 0 lost,
0 duplicated. Prints figures; asserts nothing.
"""

from __future__ import annotations

import compileall
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeos.ipc import protocol
from edgeos.ipc.satellite.buffer import Buffer

from bench.common import finish, parser
from bench.node_pss import node_pss_mb
from bench.satellite_cpu import cpu_seconds, per_10k, processes
from tests.integration.daemon import Daemon
from tests.integration.satellite.support import Pair, Recorder, counter, make_pair

SEQ = "sat1.c1.seq"


def series_faults(values: list[int]) -> tuple[int, int]:
    """(lost, duplicated) over counter runs (a run restarts at 1 when the worker does)."""
    lost = duplicated = 0
    for prev, cur in itertools.pairwise(values):
        if cur == 1:
            continue
        if cur <= prev:
            duplicated += 1
        elif cur > prev + 1:
            lost += cur - prev - 1
    return lost, duplicated


def wait(pred: Any, timeout: float, step: float = 0.01) -> float | None:
    """Seconds until ``pred()`` holds, or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if pred():
                return time.monotonic() - t0
        except Exception:  # not there yet
            pass
        time.sleep(step)
    return None


def core_row(pair: Pair) -> dict[str, Any]:
    rows = [r for r in pair.core.call("satellites") if r["id"] == "sat1"]
    return rows[0] if rows else {}


def core_state(pair: Pair) -> str | None:
    return core_row(pair).get("state")


def sat_state(pair: Pair) -> str:
    return pair.sat.call("satellites")[0]["state"]


FOUR = ("edgeos: supervisor", "edgeos: broker", "edgeos: uplink",
        "edgeos: worker c1 [simulator]")  # the total the issue asks for


def memory(sat: Daemon) -> dict[str, Any]:
    """PSS/RSS in MB of each satellite process, by title; the total of supervisor,
    broker, uplink and the simulator worker, and of every process. ``node_pss_mb``:
    the same PSS with shared pages divided among this node's processes only, as on
    a Pi Zero running just this node (bench/node_pss.py; None unless root)."""
    supervisor = psutil.Process(sat.proc.pid)
    rows, pids = {}, {}
    for p in [supervisor, *supervisor.children(recursive=True)]:
        try:
            info = p.memory_full_info()
            title = p.cmdline()[0].strip() if p is not supervisor else "edgeos: supervisor"
            threads = p.num_threads()
        except psutil.Error:
            continue
        rows[title] = {"pss_mb": round(info.pss / 2**20, 1), "rss_mb": round(info.rss / 2**20, 1),
                       "threads": threads}
        pids[title] = p.pid
    alone = node_pss_mb(list(pids.values()))
    for title, row in rows.items():
        row["node_pss_mb"] = alone[pids[title]] if alone else None
    four = [rows[t] for t in FOUR if t in rows]
    return {"processes": rows,
            "pss_total_mb": round(sum(r["pss_mb"] for r in four), 1),
            "rss_total_mb": round(sum(r["rss_mb"] for r in four), 1),
            "pss_all_mb": round(sum(r["pss_mb"] for r in rows.values()), 1),
            "node_pss_total_mb": round(sum(r["node_pss_mb"] for r in four), 1)
            if alone else None,
            "node_pss_all_mb": round(sum(alone.values()), 1) if alone else None,
            "threads": sum(r["threads"] for r in rows.values())}


def start_satellite(pair: Pair, factory: Any, sat_id: str, *more: str,
                    env: dict[str, str] | None = None) -> Daemon:
    """Another satellite of the same core (straight to its port), connected and
    settled (the same state as the first one's when memory is read)."""
    sat = factory([counter(rate_hz=200)], extra_args=[
        "--satellite", "--satellite-id", sat_id, "--core-host",
        f"{pair.listen[0]}:{pair.listen[1]}", f"--core-key={pair.core_key}", *more],
        env=env).start()
    pair.core.ctl("satellites", "trust", "--id", sat_id, "--",
                  sat.ctl_json("node-key")["key"])
    wait(lambda: any(r["id"] == sat_id and r["state"] == "connected"
                     for r in pair.core.call("satellites")), 20)
    time.sleep(3)
    return sat


def start_lean(pair: Pair, factory: Any) -> Daemon:
    """The same satellite on the LOW_POWER profile."""
    return start_satellite(pair, factory, "lean", "--low-power")


def exec_baseline(pair: Pair, factory: Any) -> dict[str, Any]:
    """The baseline of this run: the same BALANCED satellite with every process exec'd
    (``EDGEOS_FORKSERVER=off``: no zygote, no templates), measured and stopped."""
    plain = start_satellite(pair, factory, "plain", env={"EDGEOS_FORKSERVER": "off"})
    try:
        return memory(plain)
    finally:
        plain.stop()


def print_memory(mem: dict[str, Any], mem_lean: dict[str, Any],
                 mem_exec: dict[str, Any]) -> None:
    for name, m in (("BALANCED", mem), ("LOW_POWER", mem_lean),
                    ("baseline: BALANCED, all exec'd", mem_exec)):
        print(f"satellite memory ({name}): supervisor + broker + uplink + worker PSS "
              f"{m['pss_total_mb']} MB ({m['node_pss_total_mb']} MB with this node "
              f"alone), RSS {m['rss_total_mb']} MB; every process PSS {m['pss_all_mb']} MB "
              f"({m['node_pss_all_mb']} MB alone), {len(m['processes'])} processes, "
              f"{m['threads']} threads")
        for title, row in m["processes"].items():
            print(f"  {title}: PSS {row['pss_mb']} MB ({row['node_pss_mb']} MB alone), "
                  f"RSS {row['rss_mb']} MB, {row['threads']} threads")


def memory_figures(mem: dict[str, Any], mem_lean: dict[str, Any],
                   mem_exec: dict[str, Any]) -> dict[str, Any]:
    return {"satellite_pss_exec_mb": mem_exec["pss_total_mb"],
            "satellite_pss_all_exec_mb": mem_exec["pss_all_mb"],
            "satellite_node_pss_mb": mem["node_pss_total_mb"],
            "satellite_node_pss_all_mb": mem["node_pss_all_mb"],
            "low_power_node_pss_mb": mem_lean["node_pss_total_mb"],
            "satellite_node_pss_exec_mb": mem_exec["node_pss_total_mb"],
            "satellite_node_pss_all_exec_mb": mem_exec["node_pss_all_mb"],
            "satellite_pss_mb": mem["pss_total_mb"], "satellite_rss_mb": mem["rss_total_mb"],
            "satellite_pss_all_mb": mem["pss_all_mb"], "satellite_processes": mem["processes"],
            "low_power_pss_mb": mem_lean["pss_total_mb"],
            "low_power_pss_all_mb": mem_lean["pss_all_mb"],
            "satellite_threads": mem["threads"], "low_power_threads": mem_lean["threads"],
            "low_power_processes": mem_lean["processes"]}


PACKAGES = ("edgeos", "supervisor", "ipc", "workers", "common", "config")  # setup.py's


def compile_bytecode() -> None:
    """Write the checkout's bytecode, as installing the package does: under
    PYTHONDONTWRITEBYTECODE an editable checkout has none, and every process would
    compile each module it imports (its memory then counts the compiler's work)."""
    root = Path(__file__).resolve().parents[1]
    for name in PACKAGES:
        compileall.compile_dir(root / name, quiet=1)


def daemon_factory(root: Path) -> tuple[Callable[..., Daemon], list[Daemon]]:
    """A maker of daemons in ``root/d0``, ``root/d1``, ... and the list of those made."""
    made: list[Daemon] = []

    def factory(*a: Any, **kw: Any) -> Daemon:
        d = Daemon(root / f"d{len(made)}", *a, **kw)
        made.append(d)
        return d
    return factory, made


def memory_only(args: Any) -> int:
    """``--memory-only``: the two satellites' memory, nothing else (a minute, not five)."""
    root = Path(tempfile.mkdtemp(prefix="bench-sat-"))
    factory, made = daemon_factory(root)

    try:
        pair = make_pair(factory, [counter(rate_hz=200)])
        pair.trust()
        wait(lambda: core_state(pair) == "connected", 20)
        time.sleep(2)
        lean = start_lean(pair, factory)
        mem, mem_lean = memory(pair.sat), memory(lean)
        lean.stop()
        mem_exec = exec_baseline(pair, factory)
        pair.relay.close()
    finally:
        for d in made:
            d.close()
        shutil.rmtree(root, ignore_errors=True)
    print_memory(mem, mem_lean, mem_exec)
    return finish(args, {**memory_figures(mem, mem_lean, mem_exec),
                         "loadavg": round(os.getloadavg()[0], 2)})


def link_throughput(curve: bool, chunks: int = 400) -> float:
    """Datapoints/s through one DEALER -> ROUTER TCP link, CURVE or plain."""
    ctx = zmq.Context()
    router, dealer = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    for s in (router, dealer):
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SNDHWM, 0)
        s.setsockopt(zmq.RCVHWM, 0)
    if curve:
        spub, ssec = zmq.curve_keypair()
        cpub, csec = zmq.curve_keypair()
        router.curve_server, router.curve_publickey, router.curve_secretkey = True, spub, ssec
        dealer.curve_publickey, dealer.curve_secretkey, dealer.curve_serverkey = cpub, csec, spub
    port = router.bind_to_random_port("tcp://127.0.0.1")
    dealer.connect(f"tcp://127.0.0.1:{port}")
    ts = protocol.now_ms()
    chunk = protocol.pack([[f"c1.p{i}", i, ts, "good", True, None] for i in range(2000)])
    dealer.send(b"warm")
    router.recv_multipart()

    def send() -> None:
        for _ in range(chunks):
            dealer.send_multipart([b"data", chunk])

    t0 = time.perf_counter()
    sender = threading.Thread(target=send)
    sender.start()
    for _ in range(chunks):
        router.recv_multipart()
    took = time.perf_counter() - t0
    sender.join()
    router.close()
    dealer.close()
    ctx.term()
    return chunks * 2000 / took


def link_latency(core: Recorder, sat: Recorder, since_ms: float) -> list[float]:
    """Per counter value: arrival on the core minus arrival on the satellite's broker."""
    at_sat = {i[1]: i[4] for i in list(sat.items) if i[0] == "c1.seq" and i[3] >= since_ms}
    return sorted(i[4] - at_sat[i[1]] for i in list(core.items)
                  if i[0] == SEQ and i[1] in at_sat and i[2] == "good")


def append_times(root: Path, auto_checkpoint: bool, n: int = 2000) -> list[float]:
    """ms per buffer append (one small chunk, 200/s, acknowledged as the link would)."""
    path = root / ("auto" if auto_checkpoint else "thread")
    path.mkdir()
    buf = Buffer(path, 256 * 2**20)
    if auto_checkpoint:  # SQLite's default: the checkpoint runs inside a commit
        buf.checkpoints.close()
        buf.db.execute("PRAGMA wal_autocheckpoint=1000")
    item = ["c1.seq", 1, protocol.now_ms(), "good", False, None]
    took = []
    for i in range(n):
        t0 = time.perf_counter()
        buf.append([item, item])
        took.append((time.perf_counter() - t0) * 1000)
        if i % 40 == 0:
            buf.ack(buf.last_seq)
            buf.flush()
        time.sleep(0.005)
    buf.close()
    return sorted(took)


STALL_MS = 10.0  # an append slower than this froze the uplink's loop


def pct(values: list[float], q: float) -> float | None:
    return round(values[max(0, int(len(values) * q) - 1)], 2) if values else None


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--outage", type=float, default=60.0, help="seconds the link is cut")
    p.add_argument("--live-seconds", type=float, default=10.0)
    p.add_argument("--rounds", type=int, default=3, help="CURVE/plain throughput rounds")
    p.add_argument("--memory-only", action="store_true",
                   help="only the two satellites' memory figures")
    args = p.parse_args()
    compile_bytecode()
    if args.memory_only:
        return memory_only(args)
    root = Path(tempfile.mkdtemp(prefix="bench-sat-"))
    factory, made = daemon_factory(root)

    pair = make_pair(factory, [counter(rate_hz=200)])
    rec = Recorder(pair.core.run, "sat1.")
    rec_lean = Recorder(pair.core.run, "lean.")
    sat_rec = Recorder(pair.sat.run, "c1.")
    try:
        pair.trust()
        wait(lambda: core_state(pair) == "connected", 20)
        time.sleep(2)
        # live latency at 200/s (before the LOW_POWER satellite starts: its 200/s and
        # its five processes would load the same two cores and the same gateway)
        t_live = time.time() * 1000
        procs = {**processes(pair.sat, "sat"), **processes(pair.core, "core")}
        cpu0, n0 = cpu_seconds(procs), len(rec.items)
        time.sleep(args.live_seconds)
        cpu = per_10k(cpu0, cpu_seconds(procs), len(rec.items) - n0)
        load_live = round(os.getloadavg()[0], 2)
        lat = sorted(i[4] - i[3] for i in list(rec.items)
                     if i[0] == SEQ and i[3] >= t_live and i[2] == "good")
        sat_lat = sorted(i[4] - i[3] for i in list(sat_rec.items)
                         if i[0] == "c1.seq" and i[3] >= t_live)
        link_lat = link_latency(rec, sat_rec, t_live)
        # the same satellite on the LOW_POWER profile, beside it (for its memory)
        lean = start_lean(pair, factory)
        mem, mem_lean = memory(pair.sat), memory(lean)
        # its live latency: straight to the core's port, no relay in this process
        # (both satellites send meanwhile: compare with the first one in this window)
        t_lean = time.time() * 1000
        time.sleep(args.live_seconds)
        lean_lat = sorted(i[4] - i[3] for i in list(rec_lean.items)
                          if i[0] == "lean.c1.seq" and i[3] >= t_lean and i[2] == "good")
        both_lat = sorted(i[4] - i[3] for i in list(rec.items)
                          if i[0] == SEQ and i[3] >= t_lean and i[2] == "good")
        lean.stop()
        mem_exec = exec_baseline(pair, factory)
        # 500/s for the outage (connections.json changed and applied: c1 restarts)
        doc = {"version": "1.0", "connections": [counter(rate_hz=500)]}
        pair.sat.call("connections", doc=doc)
        time.sleep(2)
        pair.relay.cut()
        detect = wait(lambda: core_state(pair) == "offline", 30)
        detect_sat = wait(lambda: sat_state(pair) == "offline", 30)
        detect_sat = None if detect_sat is None else detect_sat + (detect or 0)
        time.sleep(max(0.0, args.outage - (detect or 0) - (detect_sat or 0)))
        backlog_last = pair.sat.call("satellites")[0]["last_seq"]
        before = len(rec.items)
        t_restore = time.time() * 1000
        pair.relay.restore()
        resume = wait(lambda: any(i[4] >= t_restore for i in rec.items[before:]), 30)
        wait(lambda: (core_row(pair).get("acked") or 0) >= backlog_last, 120, 0.05)
        # the backlog: values made during the outage that arrived after the restore
        caught = [i for i in list(rec.items)[before:] if i[0] == SEQ and i[2] == "good"
                  and i[4] >= t_restore > i[3]]
        span_ms = (caught[-1][4] - caught[0][4]) if len(caught) > 1 else 0
        catchup = len(caught) / (span_ms / 1000) if span_ms > 0 else None
        time.sleep(2)
        lost, duplicated = series_faults(rec.seqs(SEQ))
    finally:
        rec.close()
        rec_lean.close()
        sat_rec.close()
        pair.relay.close()
        for d in made:
            d.close()
        shutil.rmtree(root, ignore_errors=True)
    stall_root = Path(tempfile.mkdtemp(prefix="bench-sat-buf-"))
    try:
        auto_times = append_times(stall_root, True)
        thread_times = append_times(stall_root, False)
    finally:
        shutil.rmtree(stall_root, ignore_errors=True)
    curve_rounds, plain_rounds = [], []
    for _ in range(args.rounds):
        curve_rounds.append(link_throughput(True))
        plain_rounds.append(link_throughput(False))
    curve, plain = statistics.median(curve_rounds), statistics.median(plain_rounds)
    result = {
        "catchup_per_s": round(catchup) if catchup else None,
        "catchup_datapoints": len(caught),
        "live_p50_ms": round(statistics.median(lat), 2) if lat else None,
        "live_p99_ms": round(lat[int(len(lat) * 0.99) - 1], 2) if lat else None,
        "live_samples": len(lat),
        "sat_local_p50_ms": pct(sat_lat, 0.5), "sat_local_p99_ms": pct(sat_lat, 0.99),
        "link_p50_ms": pct(link_lat, 0.5), "link_p99_ms": pct(link_lat, 0.99),
        "loadavg_live": load_live,
        "uplink_cpu_s_per_10k": cpu.get("sat_uplink"),
        "gateway_cpu_s_per_10k": cpu.get("core_gateway"),
        "sat_broker_cpu_s_per_10k": cpu.get("sat_broker"),
        "core_broker_cpu_s_per_10k": cpu.get("core_broker"),
        "worker_cpu_s_per_10k": cpu.get("sat_worker"),
        "direct_low_power_p50_ms": pct(lean_lat, 0.5),
        "direct_low_power_p99_ms": pct(lean_lat, 0.99),
        "relayed_beside_it_p50_ms": pct(both_lat, 0.5),
        "relayed_beside_it_p99_ms": pct(both_lat, 0.99),
        "append_p99_ms": pct(thread_times, 0.99), "append_max_ms": pct(thread_times, 1.0),
        "append_p99_ms_autocheckpoint": pct(auto_times, 0.99),
        "append_max_ms_autocheckpoint": pct(auto_times, 1.0),
        "append_stalls": sum(t > STALL_MS for t in thread_times),
        "append_stalls_autocheckpoint": sum(t > STALL_MS for t in auto_times),
        "detect_s": round(detect, 2) if detect is not None else None,
        "detect_satellite_s": round(detect_sat, 2) if detect_sat is not None else None,
        "resume_s": round(resume, 2) if resume is not None else None,
        "outage_s": args.outage, "lost": lost, "duplicated": duplicated,
        "curve_per_s": round(curve), "plain_per_s": round(plain),
        "curve_ratio": round(curve / plain, 3),
        **memory_figures(mem, mem_lean, mem_exec)}
    print(f"live latency at 200/s: p50 {result['live_p50_ms']} ms, p99 "
          f"{result['live_p99_ms']} ms (target p99 <= 20 ms), {len(lat)} samples")
    print(f"  baseline, device -> satellite broker: p50 {result['sat_local_p50_ms']} ms, "
          f"p99 {result['sat_local_p99_ms']} ms; the link's share (satellite broker -> "
          f"core broker): p50 {result['link_p50_ms']} ms, p99 {result['link_p99_ms']} ms")
    print(f"  load average {load_live} meanwhile; CPU seconds per 10,000 datapoints: uplink "
          f"{result['uplink_cpu_s_per_10k']}, gateway {result['gateway_cpu_s_per_10k']}; "
          f"baseline, one broker hop: satellite broker {result['sat_broker_cpu_s_per_10k']}, "
          f"core broker {result['core_broker_cpu_s_per_10k']}, worker "
          f"{result['worker_cpu_s_per_10k']}")
    print(f"  two satellites at 200/s each: the LOW_POWER one straight to the core p50 "
          f"{result['direct_low_power_p50_ms']} ms, p99 {result['direct_low_power_p99_ms']} "
          f"ms; the first one through the relay meanwhile p50 "
          f"{result['relayed_beside_it_p50_ms']} ms, p99 {result['relayed_beside_it_p99_ms']} ms")
    print(f"buffer append at 200/s: p99 {result['append_p99_ms']} ms, max "
          f"{result['append_max_ms']} ms with checkpoints in a thread; baseline with "
          f"SQLite's checkpoint in the commit: p99 {result['append_p99_ms_autocheckpoint']} "
          f"ms, max {result['append_max_ms_autocheckpoint']} ms; appends over {STALL_MS:g} ms: "
          f"{result['append_stalls']} vs {result['append_stalls_autocheckpoint']}")
    print(f"cut noticed: core {result['detect_s']} s, satellite "
          f"{result['detect_satellite_s']} s (target <= 3 s); resume {result['resume_s']} s "
          f"after restore (target <= 2 s)")
    print(f"catch-up after a {args.outage:g} s outage at 500/s: {result['catchup_per_s']} "
          f"datapoints/s over {len(caught)} (target >= 20,000/s); lost {lost}, "
          f"duplicated {duplicated}")
    print(f"link throughput, same chunks: CURVE {curve:,.0f}/s, plain {plain:,.0f}/s, "
          f"ratio {result['curve_ratio']}")
    print_memory(mem, mem_lean, mem_exec)
    return finish(args, result)


if __name__ == "__main__":
    sys.exit(main())
