"""HA failover figures, in one run on this machine (issue 15):

* ``takeover_s``: kill -9 of the active core's whole process tree until the other core
  reports ``active`` (median of ``--cycles``, default 5; the killed core is restarted
  each time, demotes itself and mirrors again before the next kill);
* the satellite counter, judged by each core's *record*: its change feed, what it
  mirrored as a standby (``~``) and what it took itself (docs/high-availability.md):
  ``lost``: at each kill, sequences missing from the record of the core that took
  over, from the first value it mirrored after it (re-)joined to its end; plus those
  in no record at all (``lost_everywhere``); ``lost_final``: the final active core's
  share; ``doubled``: sequences appearing more than once in one core's record (the max
  over the cores; ``doubled_sum`` the sum; ``doubled_seqs`` which, at which kill);
  ``published_on_both`` (``_at``: the runs, at which kill): sequences both cores
  published as their own: what the dying primary published in its last instant,
  before the standby held it, is published again by the new active core (the same
  source timestamp: consumers see a repeat);
  ``commands_doubled`` / ``commands_lost``: one ``set`` per cycle on the active core,
  against the satellite device's own ``commands_seen`` (a ``set`` counts as sent when
  the broker sent it: confirmed, or not confirmed in time on a loaded host:
  ``commands_outcomes``);
* ``mirror_lag_s`` (and ``mirror_lag_dp``): the primary's view of the mirror lag,
  sampled twice a second for ``--lag-seconds`` while the satellite streams 1,000
  datapoints/s (median; ``mirror_lag_max_s`` the worst);
* baseline measured in the same run: ``switchover_s``, a planned ``ha promote``.

    python bench/failover.py [--json] [--cycles 5] [--lag-seconds 10]

Two real cores and a satellite, each an ``edgeos`` daemon with its own dirs on
127.0.15.x. Targets: takeover <= 10 s, 0 lost, 0 doubled, lag <= 1 s. Prints figures
(and the load average); asserts nothing.
"""

from __future__ import annotations

import argparse
import json
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeos.ipc.rpc import RpcError

from tests.integration.daemon import Daemon
from tests.integration.ha.support import CoreRecord, make_cores
from tests.integration.satellite.support import counter

SEQ = "sat1.c1.seq"


def wait(pred: Any, timeout: float, step: float = 0.05) -> float | None:
    """Seconds until ``pred()`` is true (exceptions count as not yet), or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if pred():
                return time.monotonic() - t0
        except (RpcError, KeyError, TypeError, ValueError):  # starting up: not yet
            pass
        time.sleep(step)
    return None


def kill_tree(d: Daemon) -> None:
    assert d.proc is not None
    procs = [psutil.Process(d.proc.pid), *psutil.Process(d.proc.pid).children(recursive=True)]
    for p in procs:
        os.kill(p.pid, signal.SIGKILL)
    psutil.wait_procs(procs, timeout=10)
    d.proc.wait()
    d.log.close()
    d._client = None


def role(d: Daemon) -> str:
    return d.call("ha")["role"]


def runs(values: list[int]) -> list[list[int]]:
    """[first, last] of each run of consecutive values."""
    out: list[list[int]] = []
    for v in values:
        if out and out[-1][1] == v - 1:
            out[-1][1] = v
        else:
            out.append([v, v])
    return out


def gaps(seqs: list[int]) -> list[int]:
    """Sequences missing between the first and the last of ``seqs``."""
    return sorted(set(range(min(seqs), max(seqs) + 1)) - set(seqs)) if seqs else []


def doubles(rec: CoreRecord, kills: list[float]) -> list[list[int]]:
    """[seq, kill] for each sequence in ``rec`` more than once: the kill (0-based)
    last before its repeat arrived (-1: before any kill)."""
    seen: set[int] = set()
    out = []
    for item in list(rec.items):
        if item[0].lstrip("~") != SEQ or item[2] != "good":
            continue
        if item[1] in seen:
            out.append([item[1], sum(t <= item[4] for t in kills) - 1])
        seen.add(item[1])
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--cycles", type=int, default=5)
    p.add_argument("--lag-seconds", type=float, default=10.0)
    p.add_argument("--keep", action="store_true",
                   help="keep the daemons' dirs (their logs) and print where")
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-ha-"))
    made: list[Daemon] = []

    def factory(*a: Any, **kw: Any) -> Daemon:
        d = Daemon(root / f"d{len(made)}", *a, **kw)
        made.append(d)
        return d

    cores = make_cores(factory, [])
    # each core's record from before the satellite's first value
    recs = {id(cores.primary): CoreRecord(cores.primary.run, "sat1."),
            id(cores.standby): CoreRecord(cores.standby.run, "sat1.")}
    sat = cores.satellite(factory, [counter("c1", 1000)])
    takeovers: list[float] = []
    lags_s: list[float] = []
    lags_dp: list[int] = []
    kill_times: list[float] = []  # ms, the recorders' clock
    taken_by: list[tuple[CoreRecord, int]] = []  # at each kill: the successor, its life
    outcomes: list[str] = []  # of each set
    try:
        wait(lambda: cores.standby.call("ha")["state"] == "mirroring", 30)
        wait(lambda: len(recs[id(cores.primary)].seqs(SEQ)) > 1000, 30)
        t_end = time.monotonic() + args.lag_seconds
        while time.monotonic() < t_end:
            ha = cores.primary.call("ha")
            if ha.get("lag_s") is not None:
                lags_s.append(ha["lag_s"])
                lags_dp.append(ha["lag_dp"])
            time.sleep(0.5)
        # baseline: a planned switch-over, then back
        t0 = time.monotonic()
        cores.standby.call("ha_promote", reason="bench", who="bench")  # planned
        wait(lambda: role(cores.primary) == "standby", 30)
        switchover = time.monotonic() - t0
        active, other = cores.standby, cores.primary
        wait(lambda: other.call("ha")["state"] == "mirroring", 30)
        recs[id(other)].mark()  # it re-joined as a standby: its record starts over
        for _ in range(args.cycles):
            outcomes.append(active.call("set", address="sat1.c1.setpoint",
                                        value=len(outcomes) + 1)["outcome"])
            t0 = time.monotonic()
            kill_times.append(time.time() * 1000)
            kill_tree(active)
            taken_by.append((recs[id(other)], len(recs[id(other)].marks) - 1))
            took = wait(lambda o=other: role(o) == "active", 60)
            takeovers.append(round(took, 2) if took is not None else float("inf"))
            active, other = other, active
            recs[id(other)].mark()  # restarted: what it gets before it joined is apart
            other.start(wait=False)
            wait(lambda o=other: o.call("ha")["role"] == "standby"
                 and o.call("ha")["state"] == "mirroring", 90)
            joined = recs[id(other)]
            joined.mark()  # joined: its record as a standby starts here
            wait(lambda r=joined: len(r.seqs(SEQ, life=-1)) > 0, 5)
            time.sleep(2)
        outcomes.append(active.call("set", address="sat1.c1.setpoint",
                                    value=len(outcomes) + 1)["outcome"])
        last = sat.call("satellites")[0]["last_seq"]
        final = recs[id(active)]
        wait(lambda: max(final.seqs(SEQ) or [0]) >= last, 60)
        seen_cmds = sat.call("get", address="c1.commands_seen")["value"]
    finally:
        for r in recs.values():
            r.close()
        for d in made:
            d.close()
        if args.keep:
            print(f"daemons' dirs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    load = round(os.getloadavg()[0], 1)
    commands = sum(o in ("confirmed", "timeout") for o in outcomes)
    lost_at: list[list[int]] = []  # per kill: the runs the successor's record misses
    for rec, life in taken_by:
        lost_at.append(runs(gaps(rec.seqs(SEQ, life=life))))
    everything = set().union(*(r.seqs(SEQ) for r in recs.values()))
    nowhere = gaps(sorted(everything))
    arrived = {i[1]: i[4] for r in recs.values() for i in list(r.items)
               if i[0].lstrip("~") == SEQ and i[2] == "good"}
    # [first, last, the kill (0-based) last before the value before them arrived]
    nowhere_at = [[a, b, sum(t <= arrived.get(a - 1, 0) for t in kill_times) - 1]
                  for a, b in runs(nowhere)]
    lost_final = len(gaps(final.seqs(SEQ, life=-1)))
    lost = sum(b - a + 1 for at in lost_at for a, b in at) + len(nowhere)
    doubled = [doubles(r, kill_times) for r in recs.values()]
    own = [set(r.seqs(SEQ, mirrored=False)) for r in recs.values()]
    on_both = sorted(own[0] & own[1])
    first_seen: dict[int, float] = {}
    for r in recs.values():
        for i in list(r.items):
            if i[0] == SEQ and i[2] == "good":
                first_seen[i[1]] = min(i[4], first_seen.get(i[1], i[4]))
    # [first, last, the kill (0-based) that followed the first one's publication]
    on_both_at = [[a, b, sum(t <= first_seen.get(a, 0) for t in kill_times)]
                  for a, b in runs(on_both)]
    result = {
        "takeover_s": statistics.median(takeovers) if takeovers else None,
        "takeovers_s": takeovers, "switchover_s": round(switchover, 2),
        "lost": lost, "lost_at_kills": [at[:5] for at in lost_at],
        "lost_everywhere": len(nowhere), "lost_everywhere_at": nowhere_at[:5],
        "lost_final": lost_final,
        "final_range": [min(final.seqs(SEQ, life=-1) or [0]),
                        max(final.seqs(SEQ, life=-1) or [0])],
        "doubled": max(len(d) for d in doubled), "doubled_sum": sum(len(d) for d in doubled),
        "doubled_seqs": [d[:20] for d in doubled], "published_on_both": len(on_both),
        "published_on_both_at": on_both_at[:10],
        "values": max(everything), "commands_sent": commands, "commands_seen": seen_cmds,
        "commands_doubled": max(0, seen_cmds - commands),
        "commands_lost": max(0, commands - seen_cmds), "commands_outcomes": outcomes,
        "mirror_lag_s": round(statistics.median(lags_s), 3) if lags_s else None,
        "mirror_lag_max_s": max(lags_s) if lags_s else None,
        "mirror_lag_dp": statistics.median(lags_dp) if lags_dp else None,
        "rate_dp_s": 1000, "load_average": load}
    print(f"takeover after kill -9 of the active core: median {result['takeover_s']} s over "
          f"{len(takeovers)} ({takeovers}) (target <= 10 s); planned switch-over "
          f"{result['switchover_s']} s (baseline)")
    print(f"satellite counter, {result['values']} values, by each core's record (own + "
          f"mirrored): lost {lost} ({lost_final} by the final active core), doubled "
          f"{result['doubled']} (max over cores; sum {result['doubled_sum']}) (target 0/0); "
          f"{len(on_both)} published by both cores as their own; commands {commands} sent, "
          f"{seen_cmds} seen by the device")
    print(f"mirror lag at 1,000 datapoints/s: median {result['mirror_lag_s']} s, max "
          f"{result['mirror_lag_max_s']} s, {result['mirror_lag_dp']} datapoints "
          f"(target <= 1 s); load average {load}")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
