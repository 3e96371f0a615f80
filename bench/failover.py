"""HA failover figures, in one run on this machine (issue 15):

* ``takeover_s``: kill -9 of the active core's whole process tree until the other core
  reports ``active`` (median of ``--cycles``, default 5; the killed core is restarted
  each time, demotes itself and mirrors again before the next kill);
* ``lost`` / ``doubled``: over the satellite counter series that reached either core
  (union of both cores' change feeds), values missing and values published twice
  (``doubled_per_core``: twice by the same core);
  ``commands_doubled`` / ``commands_lost``: one ``set`` per cycle on the active core,
  against the satellite device's own ``commands_seen``;
* ``mirror_lag_s`` (and ``mirror_lag_dp``): the primary's view of the mirror lag,
  sampled twice a second for ``--lag-seconds`` while the satellite streams 1,000
  datapoints/s (median; ``mirror_lag_max_s`` the worst);
* baseline measured in the same run: ``switchover_s``, a planned ``ha promote``.

    python bench/failover.py [--json] [--cycles 5] [--lag-seconds 10]

Two real cores and a satellite, each an ``edgeos`` daemon with its own dirs on
127.0.15.x. Targets: takeover <= 10 s, 0 lost, 0 doubled, lag <= 1 s. Prints figures;
asserts nothing.
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
from tests.integration.ha.support import make_cores
from tests.integration.satellite.support import Recorder, counter

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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--cycles", type=int, default=5)
    p.add_argument("--lag-seconds", type=float, default=10.0)
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-ha-"))
    made: list[Daemon] = []

    def factory(*a: Any, **kw: Any) -> Daemon:
        d = Daemon(root / f"d{len(made)}", *a, **kw)
        made.append(d)
        return d

    cores = make_cores(factory, [])
    sat = cores.satellite(factory, [counter("c1", 1000)])
    recs = [Recorder(cores.primary.run, "sat1."), Recorder(cores.standby.run, "sat1.")]
    takeovers: list[float] = []
    lags_s: list[float] = []
    lags_dp: list[int] = []
    commands = 0
    try:
        wait(lambda: cores.standby.call("ha")["state"] == "mirroring", 30)
        wait(lambda: len(recs[0].seqs(SEQ)) > 1000, 30)
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
        for _ in range(args.cycles):
            if active.call("set", address="sat1.c1.setpoint", value=commands + 1)[
                    "outcome"] == "confirmed":
                commands += 1
            t0 = time.monotonic()
            kill_tree(active)
            took = wait(lambda o=other: role(o) == "active", 60)
            takeovers.append(round(took, 2) if took is not None else float("inf"))
            active, other = other, active
            other.start(wait=False)
            wait(lambda o=other: o.call("ha")["role"] == "standby"
                 and o.call("ha")["state"] == "mirroring", 90)
            wait(lambda: len(recs[0].seqs(SEQ)) + len(recs[1].seqs(SEQ)) > 0, 5)
            time.sleep(2)
        if active.call("set", address="sat1.c1.setpoint", value=commands + 1)[
                "outcome"] == "confirmed":
            commands += 1
        last = sat.call("satellites")[0]["last_seq"]
        wait(lambda: max(max(r.seqs(SEQ) or [0]) for r in recs) >= last, 60)
        seen_cmds = sat.call("get", address="c1.commands_seen")["value"]
    finally:
        for r in recs:
            r.close()
        for d in made:
            if d.proc is not None and d.proc.poll() is None:
                d.stop()
            d.cleanup()
        shutil.rmtree(root, ignore_errors=True)
    values = recs[0].seqs(SEQ) + recs[1].seqs(SEQ)
    unique = set(values)
    first = min(unique)
    lost = (max(unique) - first + 1) - len(unique)
    doubled = len(values) - len(unique)
    missing = sorted(set(range(first, max(unique) + 1)) - unique)
    gaps: list[list[int]] = []  # [first, last] of each run of lost values
    for v in missing:
        if gaps and gaps[-1][1] == v - 1:
            gaps[-1][1] = v
        else:
            gaps.append([v, v])
    per_core = sum(len(r.seqs(SEQ)) - len(set(r.seqs(SEQ))) for r in recs)
    result = {
        "takeover_s": statistics.median(takeovers) if takeovers else None,
        "takeovers_s": takeovers, "switchover_s": round(switchover, 2),
        "lost": lost, "lost_runs": gaps[:20], "doubled": doubled, "doubled_per_core": per_core,
        "values": len(values), "ranges": [[min(r.seqs(SEQ) or [0]), max(r.seqs(SEQ) or [0])]
                                          for r in recs],
        "commands_sent": commands, "commands_seen": seen_cmds,
        "commands_doubled": max(0, seen_cmds - commands),
        "commands_lost": max(0, commands - seen_cmds),
        "mirror_lag_s": round(statistics.median(lags_s), 3) if lags_s else None,
        "mirror_lag_max_s": max(lags_s) if lags_s else None,
        "mirror_lag_dp": statistics.median(lags_dp) if lags_dp else None,
        "rate_dp_s": 1000}
    print(f"takeover after kill -9 of the active core: median {result['takeover_s']} s over "
          f"{len(takeovers)} ({takeovers}) (target <= 10 s); planned switch-over "
          f"{result['switchover_s']} s (baseline)")
    print(f"satellite counter over both cores: {len(values)} values, lost {lost}, doubled "
          f"{doubled} ({per_core} by one core) (target 0/0); commands {commands} sent, "
          f"{seen_cmds} seen by the device")
    print(f"mirror lag at 1,000 datapoints/s: median {result['mirror_lag_s']} s, max "
          f"{result['mirror_lag_max_s']} s, {result['mirror_lag_dp']} datapoints "
          "(target <= 1 s)")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
