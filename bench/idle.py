"""Idle cost of every edgeos process (issue 16): supervisor, broker, admin UI, historian
and a worker, with 20 idle simulators, while nobody looks and while a page watches the
live stats; optionally A/B against another tree's ``edgeos`` in the same window.

    python bench/idle.py [--json] [--workers 20] [--seconds 30] [--base PATH/edgeos]

Each daemon runs with its admin UI (loopback, a free port). Phase ``nobody``: no
client at all. Phase ``watching``: one live socket (``/api/ws``, a viewer token) per
daemon that wants the 1 Hz stats, as the instances page does. CPU is each process's
run time summed over its threads from ``/proc/<pid>/task/*/schedstat`` (ns), in % of
one core; with ``--base`` both daemons are measured over the same seconds, so the
load of a shared machine hits both alike (the baseline of this run). Asserts nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import tornado.httpclient
import tornado.websocket

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import finish, parser
from bench.peers import run_ns
from tests.integration.admin_ui.web import Web, WebDaemon
from tests.integration.daemon import sim

ROLES = ("supervisor", "broker", "admin-ui", "historian", "worker")


def pids(ui: WebDaemon) -> dict[str, int]:
    """The pid of each measured process (the first worker stands for all)."""
    assert ui.d.proc is not None
    rows = {r["id"]: r["pid"] for r in ui.d.status()["instances"]}
    return {"supervisor": ui.d.proc.pid, "broker": rows["broker"],
            "admin-ui": rows["admin-ui"], "historian": rows["historian"],
            "worker": rows["idle_00"]}


def cpu_percent(daemons: dict[str, dict[str, int]], seconds: float) -> dict[str, Any]:
    """% of a core of each process of each daemon over the same ``seconds``."""
    def total(pid: int) -> int:
        return sum(run_ns(pid).values())

    before = {n: {r: total(p) for r, p in ps.items()} for n, ps in daemons.items()}
    t0 = time.monotonic()
    time.sleep(seconds)
    after = {n: {r: total(p) for r, p in ps.items()} for n, ps in daemons.items()}
    dt = time.monotonic() - t0
    return {n: {r: round((after[n][r] - before[n][r]) / 1e9 / dt * 100, 3) for r in ROLES}
            for n in daemons}


class Watchers:
    """One live socket per daemon, reading (and counting) what it is pushed, in a thread
    with its own event loop, until stopped."""

    def __init__(self, targets: dict[str, tuple[str, str]]) -> None:
        self.targets = targets  # name -> (ws url, bearer token)
        self.stats = dict.fromkeys(targets, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def __enter__(self) -> Watchers:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    async def _main(self) -> None:
        await asyncio.gather(*(self._watch(n, url, token)
                               for n, (url, token) in self.targets.items()))

    async def _watch(self, name: str, url: str, token: str) -> None:
        req = tornado.httpclient.HTTPRequest(url, headers={"Authorization": f"Bearer {token}"})
        conn = await tornado.websocket.websocket_connect(req)
        try:
            while not self._stop.is_set():
                try:
                    msg = await asyncio.wait_for(conn.read_message(), 0.5)
                except TimeoutError:
                    continue
                if msg is None:
                    return
                if json.loads(msg).get("type") == "stats":
                    self.stats[name] += 1
        finally:
            conn.close()


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--workers", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--base", help="another tree's edgeos executable, measured alongside")
    args = ap.parse_args()
    trees = {"edgeos": None, **({"base": args.base} if args.base else {})}
    roots, uis = [], {}
    try:
        for name, command in trees.items():
            root = Path(tempfile.mkdtemp(prefix=f"idle-{name}-"))
            roots.append(root)
            ui = WebDaemon(root, [sim(f"idle_{n:02d}", "plc", rate_hz=1)
                                  for n in range(args.workers)])
            if command is not None:
                ui.d.command = [command]
            uis[name] = ui
        for ui in uis.values():  # (one after the other: start-up is the busiest time)
            ui.d.start(timeout=180)
            ui.d.wait_for(lambda ui=ui: Web(ui.base).get("/health").status == 200, 60,
                          "admin UI /health")
        tokens = {n: ui.token("viewer", "bench").token or "" for n, ui in uis.items()}
        procs = {n: pids(ui) for n, ui in uis.items()}
        for ui in uis.values():
            if ui.d._client is not None:  # nothing talks to the daemons while they idle
                ui.d._client.close()
                ui.d._client = None
        time.sleep(5)
        load0 = os.getloadavg()[0]
        nobody = cpu_percent(procs, args.seconds)
        targets = {n: (ui.base.replace("http", "ws") + "/api/ws", tokens[n])
                   for n, ui in uis.items()}
        with Watchers(targets) as watchers:
            time.sleep(3)  # the first stats arrive, the pass runs each second
            watching = cpu_percent(procs, args.seconds)
        load1 = os.getloadavg()[0]
    finally:
        for ui in uis.values():
            ui.close()
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{args.workers} idle simulators per daemon, CPU in % of one core over "
          f"{args.seconds:g} s per phase; load average {load0:.1f} -> {load1:.1f}")
    print(f"{'phase':<10}{'tree':<8}" + "".join(f"{r:>12}" for r in ROLES))
    for phase, figures in (("nobody", nobody), ("watching", watching)):
        for name, row in figures.items():
            print(f"{phase:<10}{name:<8}" + "".join(f"{row[r]:>12}" for r in ROLES))
    print(f"stats messages a watching page received: {watchers.stats}")
    return finish(args, {"nobody": nobody, "watching": watching,
                         "stats_received": watchers.stats, "load": [load0, load1]})


if __name__ == "__main__":
    sys.exit(main())
