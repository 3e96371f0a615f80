"""Historian figures: ingest rate (changes/s) with the historian's CPU, and query time
for one datapoint over 24 h and 7 days at 1 Hz, downsampled to 1,000 points. Prints
figures; asserts nothing (the machine is shared).

    python bench/history.py [--json] [--changes 1000000] [--series 1000]

Ingest runs the real historian process (``python -m edgeos.ipc.historian``) against
a change feed this script publishes on, standing in for the broker, and reads the
historian's heartbeats as the supervisor would. Baselines measured in the same run:
plain SQLite ``executemany`` of the same rows (the ceiling of any SQLite historian),
and fetching every raw row of the 24 h range (what a client-side downsampler pays).

Targets (issue 13): ingest >= 50,000 changes/s; 24 h query <= 50 ms. On a busy machine
the historian waits for a core and the wall-clock rate falls with the load average
(printed); ``ingest_per_cpu_s`` (changes per second of the historian's own CPU time)
is the cross-check that the load does not inflate.
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
            "data_dir": str(data), "config_dir": str(root), "limits": {"heartbeat_s": 0.3},
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
        c0, t0 = me.cpu_times(), time.perf_counter()
        for body in batches:
            pub.send_multipart([b"bench.", body])
        recorded = 0
        while recorded < len(batches) * BATCH:
            kind, counters = beat()
            if kind == protocol.HEARTBEAT:
                recorded = counters.get("recorded", 0)
        t1, c1 = time.perf_counter(), me.cpu_times()
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
    return {"ingest_per_s": round(recorded / (t1 - t0)), "historian_cpu_percent": round(cpu, 1),
            "ingest_per_cpu_s": round(recorded / cpu_s),
            "baseline_sqlite_insert_per_s": round(changes / (b1 - b0)),
            "ingest_seconds": round(t1 - t0, 2)}


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

    def median_ms(fn: object, *args: object) -> float:
        took = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn(*args)  # type: ignore[operator]
            took.append((time.perf_counter() - t0) * 1000)
        return round(statistics.median(took), 2)

    day_ago = end - DAY_S * 1000
    result = {
        "query_24h_ms": median_ms(query.series, conn, "plc.MAIN.fTemp", day_ago, end, 1000),
        "query_7d_ms": median_ms(query.series, conn, "plc.MAIN.fTemp", start, end, 1000),
        "baseline_fetch_24h_raw_ms": median_ms(
            lambda: conn.execute("SELECT ts, value FROM raw WHERE series = ? AND ts >= ? "
                                 "AND ts < ?", (sid, day_ago, end)).fetchall()),
    }
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
    print(f"ingest: {result['ingest_per_s']:,} changes/s over {args.series} datapoints "
          f"(target >= 50,000), historian {result['historian_cpu_percent']} % of a core; "
          f"baseline plain SQLite executemany: {result['baseline_sqlite_insert_per_s']:,} "
          "rows/s")
    print(f"  per second of the historian's CPU time: {result['ingest_per_cpu_s']:,} changes "
          f"(what one free core would take; load average {result['load_average']} on "
          f"{os.cpu_count()} cores)")
    print(f"query 24 h at 1 Hz -> {result['points_24h']} points: {result['query_24h_ms']} ms "
          f"(target <= 50); 7 days: {result['query_7d_ms']} ms; baseline fetching the 24 h "
          f"raw rows: {result['baseline_fetch_24h_raw_ms']} ms")
    return finish(args, result)


if __name__ == "__main__":
    sys.exit(main())
