"""ads worker throughput: datapoints/s an ``ads`` worker carries from ADS device
notifications into the broker. Prints figures; asserts nothing (the machine is shared).

    python bench/ads.py [--json] [--seconds 10] [--symbols 500] [--cycle-ms 10]

A stand-in PLC (tests/integration/ads/plc_server.py, pyads' test server extended) runs in
its own process on 127.0.0.2 and changes ``--symbols`` DINTs every ``--cycle-ms``; it sends
each change as a notification sample over TCP. A real daemon runs one ``ads`` worker
against it; the broker's own inbound counter says how many datapoints arrived.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.beats import row_after
from bench.common import finish, parser, scratch
from tests.integration.ads.plc_server import PlcProcess
from tests.integration.daemon import Daemon


def broker_in(d: Daemon, moment: float) -> tuple[int, float]:
    """The broker's datapoints in as of its first heartbeat after ``moment``, and when
    (the total rides along with the heartbeats: bench/beats.py)."""
    row, beat = row_after(d, "broker", moment)
    return int(row["bus"]["dp_in"]), beat


def measure(d: Daemon, plc: PlcProcess, seconds: float) -> dict[str, Any]:
    worker = psutil.Process(d.instance("plc_bench")["pid"])
    dp0, beat0 = broker_in(d, time.monotonic())
    samples0, cpu0, t0 = plc.stats()["samples"], worker.cpu_times(), time.monotonic()
    time.sleep(seconds)
    samples1, cpu1, t1 = plc.stats()["samples"], worker.cpu_times(), time.monotonic()
    dp1, beat1 = broker_in(d, t1)
    dt = t1 - t0
    bus = d.instance("plc_bench")["bus"]
    return {"datapoints_per_s": round((dp1 - dp0) / (beat1 - beat0)),
            "plc_samples_per_s": round((samples1 - samples0) / dt),
            "worker_cpu_percent": round(((cpu1.user + cpu1.system)
                                         - (cpu0.user + cpu0.system)) / dt * 100, 1),
            "worker_rss_mb": round(worker.memory_info().rss / 2**20, 1),
            "worker_notifications_per_s": bus.get("notifications_per_s"),
            "connected": bus.get("connected"), "datapoints": bus.get("datapoints")}


def main() -> int:
    ap = parser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--cycle-ms", type=float, default=10)
    args = ap.parse_args()
    plc = PlcProcess("127.0.0.2", cycle_ms=args.cycle_ms, bench=args.symbols).start()
    root = scratch("bench-ads-")
    conn = {"id": "plc_bench", "type": "ads",
            "config": {"ams_net_id": plc.net_id, "host": plc.host, "symbols": ["BENCH.*"],
                       "notify_cycle_ms": args.cycle_ms},
            "limits": {"max_pps": 10_000_000, "max_cpu_share": 100, "max_ram_mb": 500}}
    d = Daemon(root, [conn])
    try:
        d.start(timeout=60)
        d.wait_for(lambda: d.instance("plc_bench")["bus"].get("connected"), 30, "connected")
        time.sleep(2)  # past the initial burst
        result = {"symbols": args.symbols, "cycle_ms": args.cycle_ms,
                  "offered_per_s": round(args.symbols * 1000 / args.cycle_ms),
                  **measure(d, plc, args.seconds)}
    finally:
        try:
            d.stop()
        finally:
            d.cleanup()
            plc.stop()
    for key, value in result.items():
        print(f"{key:>28}: {value}")
    return finish(args, result)


if __name__ == "__main__":
    sys.exit(main())
