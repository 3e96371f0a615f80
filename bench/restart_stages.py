"""Restart after kill -9, stage by stage, from the outside (bench/peers.py, bench/supervisor.py).

    python bench/restart_stages.py [--json] [--workers 20] [--restarts 20]

(on its own: a restart taken by a spare against one forked from the template,
interleaved in one run, see :func:`main`).

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
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeos.ipc import addresses, protocol

from bench.common import finish, parser
from tests.integration.daemon import Daemon, sim

STABLE_S = 10.5  # edgeos.json restart.stable_s (default 10), and a margin
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


def forkservers(supervisor: int, spare: bool = False) -> list[int]:
    """The worker templates (``edgeos: forkserver <type>``) the supervisor runs, or
    with ``spare`` their spares (workers forked ahead, waiting for a spec). A spare
    shows its own title a moment after its fork: until then only its age tells it
    from its template (the oldest of a type)."""
    kinds: dict[str, list[tuple[float, int]]] = {}
    for proc in psutil.Process(supervisor).children():
        with contextlib.suppress(psutil.Error):
            title = " ".join(proc.cmdline()).strip()  # (setproctitle pads it)
            if title.startswith("edgeos: forkserver"):
                kind = title.removesuffix(" (spare)")
                kinds.setdefault(kind, []).append((proc.create_time(), proc.pid))
    found = []
    for procs in kinds.values():
        procs.sort()
        found += [pid for _, pid in (procs[1:] if spare else procs[:1])]
    return found


def drop_spares(supervisor: int) -> None:
    """kill -9 the spares and wait until the supervisor reaped them: the next restart
    forks from the template (the A side of :func:`restarts`' comparison)."""
    for pid in forkservers(supervisor, spare=True):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    end = time.monotonic() + 10
    while forkservers(supervisor, spare=True) and time.monotonic() < end:
        time.sleep(0.01)


def restarts(d: Daemon, ids: list[str], n: int, gap_s: float = 0.3,
             fork_every: int = 0) -> list[dict[str, float]]:
    """kill -9 each of the first ``n`` of ``ids`` once, one at a time, ``gap_s``
    apart, each running for ``stable_s`` or not restarted yet: a first crash restarts at
    once, a second within ``stable_s`` backs off (on a loaded host a slow first start
    can end in a READY timeout and a restart before the bench begins). Each row says
    whether a spare took the restart; with ``fork_every`` k, the spares are dropped
    before every k-th restart, so both paths are timed side by side."""
    assert d.proc is not None
    table = {row["id"]: row for row in d.status()["instances"]}
    ids = [i for i in ids if i in table and table[i]["status"] == "running"]
    young = [table[i]["uptime_seconds"] for i in ids if table[i]["restarts"]]
    if young:  # restarted before the bench began: wait until they count as stable
        time.sleep(max(0.0, STABLE_S - min(young)))
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(addresses.endpoint(d.run, addresses.EVENTS))
    sub.setsockopt(zmq.SUBSCRIBE, b"state")
    time.sleep(0.3)  # let the subscription settle
    rows = []
    try:
        for k, iid in enumerate(ids[:n]):
            pid = d.instance(iid)["pid"]
            if fork_every and k % fork_every == 0:
                drop_spares(d.proc.pid)
                time.sleep(gap_s)
            spares = set(forkservers(d.proc.pid, spare=True))
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
                                 "load": os.getloadavg()[0],
                                 "spare": float(ev.get("pid") in spares)})
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
    for path, took in (("spare", 1.0), ("fork", 0.0)):
        mine = [r for r in rows if r["spare"] == took]
        out[f"{path}_n"] = len(mine)
        if mine:
            for key in ("total_ms", "template_cpu_ms", "worker_cpu_ms"):
                out[f"{path}_{key}"] = round(statistics.median(r[key] for r in mine), 2)
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
            f"{s['worker_cpu_ms']} ms; load average {s['load']}; taken by a spare "
            f"{s['spare_n']} (median {s.get('spare_total_ms', '-')} ms), forked "
            f"{s['fork_n']} (median {s.get('fork_total_ms', '-')} ms)")


def main() -> int:
    """The spare against the fork, interleaved in one run (the spares are dropped
    before every other restart): one daemon, ``--workers`` idle simulators."""
    ap = parser()
    ap.add_argument("--workers", type=int, default=20)
    ap.add_argument("--restarts", type=int, default=20)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-restart-"))
    ids = [f"idle_{n:02d}" for n in range(args.workers)]
    d = Daemon(root, [sim(i, "plc", rate_hz=1) for i in ids])
    try:
        d.start(timeout=120)
        time.sleep(3)
        rows = restarts(d, ids, args.restarts, fork_every=2)
    finally:
        d.stop()
        d.cleanup()
        shutil.rmtree(root, ignore_errors=True)
    s = summary(rows)
    print(describe(s))
    return finish(args, s)


if __name__ == "__main__":
    sys.exit(main())
