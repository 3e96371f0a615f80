"""Historian figures: ingest rate (changes/s) with the historian's CPU, and query time
for one datapoint over 24 h and 7 days at 1 Hz, downsampled to 1,000 points. Prints
figures; asserts nothing (the machine is shared).

    python bench/history.py [--json] [--changes 1000000] [--series 1000]

Ingest runs the real historian process (``python -m edgeos.ipc.historian``) against
a change feed this script publishes on, standing in for the broker, and reads the
historian's heartbeats as the supervisor would. ``ingest_per_s`` is end to end: the
changes published (batches of 1,000, as the broker forwards a worker's batch) divided
by the wall-clock time from the first publish until the historian's heartbeat reports
all of them committed to ``history.db`` (its ``recorded`` counter is updated in the
transaction that stores the rows). Baselines measured in the same run: plain SQLite
``executemany`` of the same rows, one statement per row (what a straightforward
SQLite historian pays), and fetching every raw row of the 24 h range (what a
client-side downsampler pays).

Targets (issue 13): ingest >= 50,000 changes/s; 24 h query <= 50 ms. On a busy machine
the historian waits for a core and the wall-clock figures fall with the load average
(printed). The figures the load does not inflate: ``ingest_per_cpu_s`` (changes per
second of the historian's own CPU time), the CPU seconds of its two busy threads
(``decode_cpu_s``: the event loop decoding and filtering changes; ``write_cpu_s``: the
SQLite writer thread, with ZeroMQ's I/O threads), and ``query_*_cpu_ms``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeos.ipc import addresses, protocol
from edgeos.ipc.historian import query
from edgeos.ipc.historian.settings import Settings
from edgeos.ipc.historian.store import HistoryStore

from bench.common import finish, parser

BATCH = 1000
DAY_S = 86_400


def ingest(changes: int, series: int) -> dict[str, float]:
    """Publish ``changes`` distinct values over ``series`` datapoints as fast as the
    feed takes them; time until the historian reports them all recorded."""
    root = Path(tempfile.mkdtemp(prefix="bench-hist-"))
    run, data = Path(tempfile.mkdtemp(prefix="eo-")), root / "data"
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    addresses.bind(pub, run, addresses.CHANGES)
    sup = ctx.socket(zmq.ROUTER)
    addresses.bind(sup, run, addresses.SUPERVISOR)
    spec = {"id": "historian", "type": "historian", "run_dir": str(run),
            # (0.1 s: "recorded" rides along with the beats, the end is seen within 0.1 s)
            "data_dir": str(data), "config_dir": str(root), "limits": {"heartbeat_s": 0.1},
            "extra": {"history": {"min_interval_s": 0, "instances": {"enabled": False}}}}
    proc = subprocess.Popen([sys.executable, "-m", "edgeos.ipc.historian"],
                            stdin=subprocess.PIPE, env={**os.environ, "EDGEOS_RUN": str(run)})
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(spec).encode())
    proc.stdin.close()

    def beat(timeout_ms: int = 5000) -> tuple[bytes, dict]:
        if not sup.poll(timeout_ms):
            raise RuntimeError("the historian does not answer")
        _, kind, body = sup.recv_multipart()
        return kind, protocol.unpack(body)

    try:
        while beat()[0] != protocol.READY:
            pass
        time.sleep(0.5)  # let the subscription reach the publisher
        batches = []
        ts0 = int(time.time() * 1000) - changes  # 1 ms apart per datapoint: all distinct
        for start in range(0, changes, BATCH):
            batches.append(protocol.pack([[f"p{(start + k) % series}", float(start + k),
                                           ts0 + start + k, "good", True, None]
                                          for k in range(BATCH)]))
        me = psutil.Process(proc.pid)
        threads0 = {t.id: t.user_time + t.system_time for t in me.threads()}
        c0, t0 = me.cpu_times(), time.perf_counter()
        for body in batches:
            pub.send_multipart([b"bench.", body])
        recorded = 0
        while recorded < len(batches) * BATCH:
            kind, counters = beat()
            if kind == protocol.HEARTBEAT:
                recorded = counters.get("recorded", 0)
        t1, c1 = time.perf_counter(), me.cpu_times()
        threads = {t.id: t.user_time + t.system_time - threads0.get(t.id, 0.0)
                   for t in me.threads()}
    finally:
        proc.terminate()
        proc.wait(10)
        pub.close(0)
        sup.close(0)
        ctx.term()
        shutil.rmtree(run, ignore_errors=True)
    cpu = (c1.user + c1.system - c0.user - c0.system) / (t1 - t0) * 100
    rows = [(1 + n % series, ts0 + n, float(n)) for n in range(changes)]
    with sqlite3.connect(root / "baseline.db", isolation_level=None) as conn:
        conn.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                           "CREATE TABLE raw(series INTEGER, ts INTEGER, value REAL);"
                           "CREATE INDEX raw_series_ts ON raw(series, ts);")
        b0 = time.perf_counter()
        for n in range(0, changes, 50_000):
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO raw VALUES (?, ?, ?)", rows[n:n + 50_000])
            conn.execute("COMMIT")
        b1 = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    cpu_s = c1.user + c1.system - c0.user - c0.system
    decode = threads.pop(proc.pid, 0.0)  # the main thread: the event loop
    return {"ingest_per_s": round(recorded / (t1 - t0)), "historian_cpu_percent": round(cpu, 1),
            "ingest_per_cpu_s": round(recorded / cpu_s),
            "baseline_sqlite_insert_per_s": round(changes / (b1 - b0)),
            "ingest_seconds": round(t1 - t0, 2), "decode_cpu_s": round(decode, 2),
            "write_cpu_s": round(sum(threads.values()), 2)}


def queries(runs: int) -> dict[str, float]:
    """One datapoint at 1 Hz for 7 days, written through the historian's own store."""
    root = Path(tempfile.mkdtemp(prefix="bench-histq-"))
    store = HistoryStore(root, Settings.from_dict({}))
    sid = store.series_id("plc.MAIN.fTemp")
    end = (int(time.time()) // 60) * 60_000
    start = end - 7 * DAY_S * 1000
    for day in range(7):
        t = start + day * DAY_S * 1000
        store.write([(sid, t + n * 1000, 20 + (n % 600) / 60) for n in range(DAY_S)],
                    t + DAY_S * 1000)
    store.close()
    conn = query.connect(root)

    def median_ms(fn: object, *args: object) -> tuple[float, float]:
        """Median wall-clock and CPU milliseconds of ``runs`` calls."""
        took, cpu = [], []
        for _ in range(runs):
            t0, p0 = time.perf_counter(), time.process_time()
            fn(*args)  # type: ignore[operator]
            cpu.append((time.process_time() - p0) * 1000)
            took.append((time.perf_counter() - t0) * 1000)
        return round(statistics.median(took), 2), round(statistics.median(cpu), 2)

    day_ago = end - DAY_S * 1000
    result: dict[str, float] = {}
    for name, fn, args in (
            ("query_24h", query.series, (conn, "plc.MAIN.fTemp", day_ago, end, 1000)),
            ("query_7d", query.series, (conn, "plc.MAIN.fTemp", start, end, 1000)),
            ("baseline_fetch_24h_raw", lambda: conn.execute(
                "SELECT ts, value FROM raw WHERE series = ? AND ts >= ? AND ts < ?",
                (sid, day_ago, end)).fetchall(), ())):
        result[f"{name}_ms"], result[f"{name}_cpu_ms"] = median_ms(fn, *args)
    points = query.series(conn, "plc.MAIN.fTemp", day_ago, end, 1000)["points"]
    result["points_24h"] = len(points)
    conn.close()
    shutil.rmtree(root, ignore_errors=True)
    return result


def main() -> int:
    ap = parser()
    ap.add_argument("--changes", type=int, default=1_000_000)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    result = {**ingest(args.changes, args.series), "load_average": round(os.getloadavg()[0], 1)}
    result.update({**queries(args.runs), "changes": args.changes, "series": args.series})
    print(f"ingest, end to end from publish to committed in history.db: "
          f"{result['ingest_per_s']:,} changes/s over {args.series} datapoints "
          f"(target >= 50,000), historian {result['historian_cpu_percent']} % of a core")
    print(f"  baseline in the same run, plain SQLite executemany of the same rows: "
          f"{result['baseline_sqlite_insert_per_s']:,} rows/s")
    print(f"  per second of the historian's CPU time: {result['ingest_per_cpu_s']:,} changes "
          f"(decode+filter thread {result['decode_cpu_s']} s, SQLite writer "
          f"{result['write_cpu_s']} s; load average {result['load_average']} on "
          f"{os.cpu_count()} cores)")
    print(f"query 24 h at 1 Hz -> {result['points_24h']} points: {result['query_24h_ms']} ms "
          f"(target <= 50; CPU {result['query_24h_cpu_ms']} ms); 7 days: "
          f"{result['query_7d_ms']} ms (CPU {result['query_7d_cpu_ms']} ms); baseline "
          f"fetching the 24 h raw rows: {result['baseline_fetch_24h_raw_ms']} ms")
    return finish(args, result)


if __name__ == "__main__":
    sys.exit(main())
