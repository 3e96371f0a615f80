"""CPU seconds per 10,000 datapoints of each process on a satellite link (issue 12).

A core and a satellite (two real ``edgeos`` daemons, a CURVE link through the test
relay), a counter simulator on the satellite at ``--rate`` datapoints/s. After a
warm-up, every process's user+system CPU time is read before and after ``--seconds``
of live traffic and divided by the datapoints that reached the core's broker in that
window. CPU time per datapoint holds up on a loaded machine where wall-clock latency
does not; the satellite's broker and the simulator worker, measured in the same
window, are the baseline the uplink and the gateway compare with.

    python bench/satellite_cpu.py [--json] [--rate 200] [--seconds 20] [--profile DIR]

``--profile DIR`` runs the uplink and the gateway under cProfile
(``EDGEOS_SATELLITE_CPROFILE``) and leaves ``DIR/uplink-PID.prof`` and
``DIR/gateway-PID.prof`` (read them with ``python -m pstats``). Asserts nothing.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import finish, parser
from tests.integration.daemon import Daemon
from tests.integration.satellite.support import Recorder, counter, make_pair

SEQ = "sat1.c1.seq"
ROLES = {"edgeos: uplink": "uplink", "edgeos: satellite-gateway": "gateway",
         "edgeos: broker": "broker", "edgeos: worker c1 [simulator]": "worker"}


def processes(daemon: Daemon, side: str) -> dict[str, psutil.Process]:
    """The daemon's children worth measuring, by ``<side>_<role>``."""
    out = {f"{side}_supervisor": psutil.Process(daemon.proc.pid)}
    for p in out[f"{side}_supervisor"].children(recursive=True):
        try:
            role = ROLES.get(p.cmdline()[0].strip())
        except (psutil.Error, IndexError):
            continue
        if role:
            out[f"{side}_{role}"] = p
    return out


def cpu_seconds(procs: dict[str, psutil.Process]) -> dict[str, float]:
    out = {}
    for name, p in procs.items():
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        out[name] = t.user + t.system
    return out


def per_10k(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, float]:
    """CPU seconds per 10,000 datapoints of each process between two readings."""
    return {k: round((after[k] - before[k]) * 10_000 / n, 3)
            for k in after if k in before and n}


def measure(pair: Any, rec: Recorder, seconds: float) -> dict[str, Any]:
    """CPU of both daemons' processes over ``seconds`` of live traffic."""
    procs = {**processes(pair.sat, "sat"), **processes(pair.core, "core")}
    n0, c0, t0 = len(rec.items), cpu_seconds(procs), time.monotonic()
    time.sleep(seconds)
    n1, c1, t1 = len(rec.items), cpu_seconds(procs), time.monotonic()
    n = n1 - n0
    return {"datapoints": n, "rate_per_s": round(n / (t1 - t0), 1),
            "cpu_s_per_10k": per_10k(c0, c1, n),
            "cpu_percent": {k: round((c1[k] - c0[k]) * 100 / (t1 - t0), 1)
                            for k in c1 if k in c0}}


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=200.0, help="datapoints/s of the counter")
    p.add_argument("--seconds", type=float, default=20.0, help="measured window")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--profile", type=Path, help="cProfile the uplink and gateway into DIR")
    args = p.parse_args()
    env = {}
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        env["EDGEOS_SATELLITE_CPROFILE"] = str(args.profile.resolve())
    root = Path(tempfile.mkdtemp(prefix="bench-satcpu-"))
    made: list[Daemon] = []

    def factory(*a: Any, **kw: Any) -> Daemon:
        d = Daemon(root / f"d{len(made)}", *a, env=env, **kw)
        made.append(d)
        return d

    load = os.getloadavg()
    pair = make_pair(factory, [counter(rate_hz=args.rate)])
    rec = Recorder(pair.core.run, "sat1.")
    try:
        pair.trust()
        pair.core.wait_for(lambda: len(rec.seqs(SEQ)) > 10, 30, "live values")
        time.sleep(args.warmup)
        result = measure(pair, rec, args.seconds)
    finally:
        rec.close()
        pair.relay.close()
        for d in made:
            d.close()
        shutil.rmtree(root, ignore_errors=True)
    result["loadavg"] = [round(x, 2) for x in (*load, *os.getloadavg())]
    print(f"{result['datapoints']} datapoints at {result['rate_per_s']}/s in "
          f"{args.seconds:g} s (load average before {load[0]:.2f}, after "
          f"{os.getloadavg()[0]:.2f})")
    print("CPU seconds per 10,000 datapoints (and % of a core):")
    for name, value in sorted(result["cpu_s_per_10k"].items()):
        print(f"  {name:16} {value:8.3f} s   {result['cpu_percent'].get(name, 0):5.1f} %")
    return finish(args, result)


if __name__ == "__main__":
    sys.exit(main())
