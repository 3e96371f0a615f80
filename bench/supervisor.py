"""Supervisor figures: restart latency after kill -9, supervisor CPU/RSS/PSS with 20
idle workers, worker RSS/PSS. Prints figures; asserts nothing (the machine is shared).

    python bench/supervisor.py [--json] [--seconds 30] [--workers 20]

Two daemons in one run: "lean" (limits by the kernel where this host allows cgroups,
restarts forked from the per-type template) and "baseline" (``EDGEOS_CGROUPS=off``,
``EDGEOS_FORKSERVER=off``: sampling and exec). Worker PSS is shown for the workers as
first started (exec'd) and after their restart (forked, with the forkserver). Targets (issue 16):
restart median <= 50 ms; supervisor <= 0.15 % of a core and <= 25 MB RSS with 20 idle
workers; an idle simulator worker <= 8 MB PSS. Last, the demo plant (``--demo``, admin
UI on): every process's PSS and idle CPU (broker and admin UI included) and the total.
"""

from __future__ import annotations

import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import finish, parser, scratch
from bench.restart_stages import restarts
from tests.integration.daemon import Daemon, sim

MB = 1024 * 1024


def restart_latencies(d: Daemon, ids: list[str], n: int) -> list[float]:
    """kill -9 -> READY of the replacement, timed from the events feed (the stages:
    bench/restart_stages.py)."""
    return [row["total_ms"] for row in restarts(d, ids, n)]


def pss_mb(pid: int) -> float:
    """Proportional set size: shared pages split among the processes sharing them."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(workers: int, seconds: float, env: dict[str, str]) -> dict[str, Any]:
    """One daemon with ``workers`` idle simulators: idle cost, memory, restart latency."""
    root = scratch("bench-sup-")
    ids = [f"idle_{n:02d}" for n in range(workers)]
    d = Daemon(root, [sim(i, "plc", rate_hz=1) for i in ids], env=env)
    try:
        d.start(timeout=120)
        assert d.proc is not None
        time.sleep(3)
        workers_now = [i for i in d.status()["instances"] if i["role"] == "worker"]
        enforcement = sorted({i["enforcement"] for i in workers_now})
        broker_pid = d.instance("broker")["pid"]
        if d._client is not None:  # nothing talks to the daemon while it idles
            d._client.close()
            d._client = None
        sup = psutil.Process(d.proc.pid)
        c0, t0 = sup.cpu_times(), time.monotonic()
        time.sleep(seconds)
        c1, t1 = sup.cpu_times(), time.monotonic()
        sup_cpu = ((c1.user + c1.system) - (c0.user + c0.system)) / (t1 - t0) * 100
        worker_rss = [psutil.Process(i["pid"]).memory_info().rss / MB for i in workers_now]
        worker_pss = [pss_mb(i["pid"]) for i in workers_now]
        result = {"enforcement": enforcement,
                  "supervisor_cpu_percent": round(sup_cpu, 3),
                  "supervisor_rss_mb": round(sup.memory_info().rss / MB, 1),
                  "supervisor_pss_mb": round(pss_mb(sup.pid), 1),
                  "worker_rss_mb": round(statistics.median(worker_rss), 1),
                  "worker_rss_mb_max": round(max(worker_rss), 1),
                  "worker_pss_mb": round(statistics.median(worker_pss), 1),
                  "broker_rss_mb": round(psutil.Process(broker_pid).memory_info().rss / MB, 1),
                  "broker_pss_mb": round(pss_mb(broker_pid), 1)}
        lat = restart_latencies(d, ids, 10)
        time.sleep(3)  # the restarted ones settle
        after = {i["id"]: i["pid"] for i in d.status()["instances"] if i["role"] == "worker"}
        restarted = [pss_mb(after[i]) for i in ids[:10]]
        result["restarted_worker_pss_mb"] = round(statistics.median(restarted), 1)
        result["forkserver"] = any("forkserver" in " ".join(p.cmdline())
                                   for p in psutil.Process(d.proc.pid).children())
    finally:
        d.stop()
        d.cleanup()
    result["restart_ms_median"] = round(statistics.median(lat), 1) if lat else None
    result["restart_ms_all"] = [round(x, 1) for x in lat]
    return result


def title(proc: psutil.Process) -> str:
    """``edgeos: worker plc_001 [simulator]`` -> ``worker plc_001``; the role otherwise."""
    words = " ".join(proc.cmdline()).removeprefix("edgeos: ").split()
    return " ".join(words[:2]) if words and words[0] in ("worker", "forkserver") else \
        (words[0] if words else str(proc.pid))


def demo(seconds: float) -> dict[str, Any]:
    """The demo plant (``--demo``: four simulators) with the admin UI: every process's
    PSS and idle CPU, and their sum: what the box pays for the whole demo."""
    root = scratch("bench-demo-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = Daemon(root, None, headless=False, extra_args=["--demo", "--web-port", str(port)])
    try:
        d.start(timeout=120)
        assert d.proc is not None
        time.sleep(3)
        if d._client is not None:
            d._client.close()
            d._client = None
        sup = psutil.Process(d.proc.pid)
        procs = [sup, *sup.children(recursive=True)]
        c0 = {p.pid: sum(p.cpu_times()[:2]) for p in procs}
        t0 = time.monotonic()
        time.sleep(seconds)
        dt = time.monotonic() - t0
        rows = {("supervisor" if p.pid == sup.pid else title(p)):
                {"pss_mb": round(pss_mb(p.pid), 1),
                 "idle_cpu_percent": round((sum(p.cpu_times()[:2]) - c0[p.pid]) / dt * 100, 2)}
                for p in procs}
    finally:
        d.stop()
        d.cleanup()
    return {"processes": rows,
            "total_pss_mb": round(sum(r["pss_mb"] for r in rows.values()), 1),
            "total_idle_cpu_percent": round(sum(r["idle_cpu_percent"] for r in rows.values()),
                                            2)}


def main() -> int:
    ap = parser()
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--workers", type=int, default=20)
    ap.add_argument("--no-demo", action="store_true", help="skip the demo plant's PSS")
    args = ap.parse_args()
    runs = {"lean": measure(args.workers, args.seconds, {}),
            "baseline": measure(args.workers, args.seconds,
                                {"EDGEOS_CGROUPS": "off", "EDGEOS_FORKSERVER": "off"})}
    plant = None if args.no_demo else demo(args.seconds)
    for name, r in runs.items():
        print(f"[{name}: limits by {', '.join(r['enforcement'])}, forkserver "
              f"{'on' if r['forkserver'] else 'off'}]")
        print(f"  restart after kill -9 (median of {len(r['restart_ms_all'])}): "
              f"{r['restart_ms_median']} ms (target <= 50)")
        print(f"  supervisor with {args.workers} idle workers over {args.seconds:g} s: "
              f"{r['supervisor_cpu_percent']} % of a core (target <= 0.15), "
              f"{r['supervisor_rss_mb']} MB RSS (target <= 25), {r['supervisor_pss_mb']} MB PSS")
        print(f"  idle simulator worker: RSS median {r['worker_rss_mb']} MB (max "
              f"{r['worker_rss_mb_max']}), PSS median {r['worker_pss_mb']} MB as first "
              f"started, {r['restarted_worker_pss_mb']} MB once restarted (target <= 8)")
        print(f"  broker: {r['broker_rss_mb']} MB RSS, {r['broker_pss_mb']} MB PSS")
    base = runs["baseline"]
    if base["supervisor_cpu_percent"]:
        print(f"supervisor idle CPU, lean vs baseline: "
              f"{runs['lean']['supervisor_cpu_percent'] / base['supervisor_cpu_percent']:.2f}x")
    if base["restart_ms_median"] and runs["lean"]["restart_ms_median"]:
        print(f"restart, lean vs baseline: "
              f"{runs['lean']['restart_ms_median'] / base['restart_ms_median']:.2f}x")
    if plant is not None:
        print(f"demo plant (--demo, admin UI on), over {args.seconds:g} s: total PSS "
              f"{plant['total_pss_mb']} MB, total idle CPU {plant['total_idle_cpu_percent']} "
              "% of a core")
        for name, row in sorted(plant["processes"].items()):
            print(f"  {name:28s} {row['pss_mb']:6.1f} MB PSS  {row['idle_cpu_percent']:5.2f} %")
    return finish(args, {"workers": args.workers, "sample_seconds": args.seconds, **runs,
                         "demo": plant})


if __name__ == "__main__":
    sys.exit(main())
