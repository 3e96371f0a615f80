"""Supervisor figures: restart latency after kill -9, supervisor CPU/RSS with 20 idle
workers, worker RSS. Prints figures; asserts nothing (the machine is shared).

    python bench/supervisor.py [--json] [--seconds 30] [--workers 20]

Targets (issue 2): restart median <= 200 ms; supervisor <= 1 % of a core and <= 40 MB
RSS with 20 idle workers; an idle simulator worker <= 25 MB RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeos.ipc import addresses, protocol

from tests.integration.daemon import Daemon, sim

MB = 1024 * 1024


def restart_latencies(d: Daemon, ids: list[str], n: int) -> list[float]:
    """kill -9 -> READY of the replacement, timed from the events feed."""
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.connect(addresses.endpoint(d.run, addresses.EVENTS))
    sub.setsockopt(zmq.SUBSCRIBE, b"state")
    time.sleep(0.3)  # let the subscription settle
    out = []
    for iid in ids[:n]:
        pid = d.instance(iid)["pid"]
        t0 = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        while sub.poll(5000):
            _, body = sub.recv_multipart()
            ev = protocol.unpack(body)
            if ev["id"] == iid and ev["new"] == "running":
                out.append((time.perf_counter() - t0) * 1000)
                break
        time.sleep(0.2)
    sub.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--workers", type=int, default=20)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-sup-"))
    ids = [f"idle_{n:02d}" for n in range(args.workers)]
    d = Daemon(root, [sim(i, "plc", rate_hz=1) for i in ids])
    try:
        d.start(timeout=60)
        time.sleep(3)
        sup = psutil.Process(d.proc.pid)
        c0, t0 = sup.cpu_times(), time.monotonic()
        time.sleep(args.seconds)
        c1, t1 = sup.cpu_times(), time.monotonic()
        sup_cpu = ((c1.user + c1.system) - (c0.user + c0.system)) / (t1 - t0) * 100
        sup_rss = sup.memory_info().rss / MB
        worker_rss = [psutil.Process(i["pid"]).memory_info().rss / MB
                      for i in d.status()["instances"] if i["role"] == "worker"]
        broker_rss = d.instance("broker")["memory_mb"]
        lat = restart_latencies(d, ids, 10)
    finally:
        d.stop()
        d.cleanup()
    result = {"restart_ms_median": round(statistics.median(lat), 1) if lat else None,
              "restart_ms_all": [round(x, 1) for x in lat],
              "supervisor_cpu_percent": round(sup_cpu, 2),
              "supervisor_rss_mb": round(sup_rss, 1),
              "worker_rss_mb": round(statistics.median(worker_rss), 1),
              "worker_rss_mb_max": round(max(worker_rss), 1),
              "broker_rss_mb": broker_rss, "workers": args.workers,
              "sample_seconds": args.seconds}
    print(f"restart after kill -9 (median of {len(lat)}): {result['restart_ms_median']} ms "
          f"(target <= 200)")
    print(f"supervisor with {args.workers} idle workers over {args.seconds:g} s: "
          f"{result['supervisor_cpu_percent']} % of a core (target <= 1), "
          f"{result['supervisor_rss_mb']} MB RSS (target <= 40)")
    print(f"idle simulator worker RSS: median {result['worker_rss_mb']} MB, max "
          f"{result['worker_rss_mb_max']} MB (target <= 25)")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
