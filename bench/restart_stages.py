"""Restart after kill -9, stage by stage, from the outside (bench/peers.py, bench/supervisor.py).

Each restart is timed from the events feed: kill -9 -> the ``starting`` event (the
supervisor saw the exit and asks for the replacement: the restart policy restarts a
first crash at once) -> the ``running`` event (the replacement said READY). Beside
the wall-clock times it records what survives a loaded machine: the CPU the
supervisor spent over the restart and the CPU the replacement spent up to READY
(all their threads, ``schedstat`` in ns), and the load average. A restart's wall time
is roughly its CPU stretched by the load: on 2 cores shared by 30 runnable processes
the chain of processes a restart wakes gets a fraction of a core.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import time
from pathlib import Path
from typing import Any

import psutil
import zmq
from edgeos.ipc import addresses, protocol

from tests.integration.daemon import Daemon

FIELDS = ("total_ms", "exit_ms", "start_ms", "supervisor_cpu_ms", "template_cpu_ms",
          "worker_cpu_ms", "load")


def cpu_ns(pid: int) -> int:
    """CPU time of all threads of ``pid`` (ns); 0 once it is gone."""
    total = 0
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
    return total


def forkservers(supervisor: int) -> list[int]:
    """The worker templates (``edgeos: forkserver <type>``) the supervisor runs."""
    found = []
    for proc in psutil.Process(supervisor).children():
        with contextlib.suppress(psutil.Error):
            if " ".join(proc.cmdline()).startswith("edgeos: forkserver"):
                found.append(proc.pid)
    return found


def restarts(d: Daemon, ids: list[str], n: int, gap_s: float = 0.3) -> list[dict[str, float]]:
    """kill -9 each of the first ``n`` of ``ids`` once, one at a time, ``gap_s``
    apart. Only instances that have not restarted yet: a first crash restarts at once,
    a second within ``stable_s`` backs off (on a loaded host a slow first start can
    end in a READY timeout and a restart before the bench begins)."""
    assert d.proc is not None
    table = {row["id"]: row for row in d.status()["instances"]}
    ids = [i for i in ids if i in table and table[i]["restarts"] == 0
           and table[i]["status"] == "running"]
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(addresses.endpoint(d.run, addresses.EVENTS))
    sub.setsockopt(zmq.SUBSCRIBE, b"state")
    time.sleep(0.3)  # let the subscription settle
    rows = []
    try:
        for iid in ids[:n]:
            pid = d.instance(iid)["pid"]
            templates = forkservers(d.proc.pid)
            sup0, tpl0 = cpu_ns(d.proc.pid), sum(cpu_ns(t) for t in templates)
            t0 = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            seen = None
            while sub.poll(10_000):
                _, body = sub.recv_multipart()
                ev = protocol.unpack(body)
                if ev["id"] != iid:
                    continue
                now = (time.perf_counter() - t0) * 1000
                if ev["new"] == "starting" and seen is None:
                    seen = now
                elif ev["new"] == "running":
                    worker = cpu_ns(ev["pid"]) if ev.get("pid") else 0
                    sup = cpu_ns(d.proc.pid) - sup0
                    tpl = sum(cpu_ns(t) for t in templates) - tpl0
                    rows.append({"total_ms": now, "exit_ms": seen if seen is not None else now,
                                 "start_ms": now - (seen if seen is not None else now),
                                 "supervisor_cpu_ms": sup / 1e6, "template_cpu_ms": tpl / 1e6,
                                 "worker_cpu_ms": worker / 1e6,
                                 "load": os.getloadavg()[0]})
                    break
            time.sleep(gap_s)
    finally:
        sub.close()
    return rows


def summary(rows: list[dict[str, float]]) -> dict[str, Any]:
    """Medians of every field (and the spread of the total)."""
    if not rows:
        return {"n": 0}
    out: dict[str, Any] = {"n": len(rows)}
    for key in FIELDS:
        out[key] = round(statistics.median(r[key] for r in rows), 2)
    totals = sorted(r["total_ms"] for r in rows)
    out["total_ms_min"] = round(totals[0], 1)
    out["total_ms_max"] = round(totals[-1], 1)
    return out


def describe(s: dict[str, Any]) -> str:
    """One line a person reads: the stages and the CPU, with the load they ran under."""
    if not s.get("n"):
        return "no restart measured"
    return (f"restart after kill -9, median of {s['n']}: {s['total_ms']} ms "
            f"(min {s['total_ms_min']}, max {s['total_ms_max']}) = exit seen "
            f"{s['exit_ms']} ms + replacement to READY {s['start_ms']} ms; CPU per restart: "
            f"supervisor {s['supervisor_cpu_ms']} ms, template {s['template_cpu_ms']} ms, "
            f"replacement up to READY "
            f"{s['worker_cpu_ms']} ms; load average {s['load']}")
