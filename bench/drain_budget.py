"""Does the broker's drain budget cost throughput? (ipc/broker/drain.py: a drain yields
to the event loop after ``DRAIN_BUDGET_NS``, 20 ms of the loop thread's CPU, so
heartbeats and control run between big batches; without it a loaded broker missed its
heartbeats and was killed as hung.)

Three broker processes, each the real :class:`~edgeos.ipc.broker.broker.Broker` on its
event loop with its once-a-second tick (no supervisor), the same 1,000 routes as
bench/router.py: ``budget`` as shipped, ``wall_budget`` the same 20 ms counted on the
wall clock (the policy before: on a loaded machine it ran out in the first preemption),
``no_budget`` (a budget no drain reaches). They are fed the same batches of 1,000
datapoints in rounds, the order reversed every round (ABBA), so all see the same load
on this shared machine; per broker the median datapoints/s and the CPU per 1,000
datapoints (schedstat, all its threads: the figure that survives the load).

    python bench/drain_budget.py [--json] [--batches 500] [--rounds 5]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeos.ipc.broker.drain import DRAIN_BUDGET_NS

from bench.broker_process import start_broker
from bench.common import finish, parser
from bench.router import BATCH, end_to_end, schedstat

NO_BUDGET_NS = 10**18  # about 30 years: never reached

BROKER = """
import asyncio, json, sys, time
import zmq
from edgeos.ipc.broker.broker import Broker
from edgeos.ipc.child import InstanceSpec

async def main():
    broker = Broker(InstanceSpec(**json.loads(sys.argv[1])))
    broker.drain.budget_ns = int(sys.argv[2])
    if sys.argv[3] == "wall":
        broker.drain.cpu_clock = time.perf_counter_ns
    loop = asyncio.get_running_loop()
    loop.add_reader(broker.workers.getsockopt(zmq.FD), broker._on_readable)
    loop.call_soon(broker._on_readable)
    tick = asyncio.create_task(broker.tick())
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # a line or EOF: stop
    tick.cancel()
    broker.values.close()

asyncio.run(main())
"""


def start(root: Path, name: str, budget_ns: int, clock: str
          ) -> tuple[subprocess.Popen[bytes], Path]:
    """A broker process with ``budget_ns`` on ``clock`` (cpu, wall), ready; its run dir."""
    return start_broker(root, name, BROKER, str(budget_ns), clock)


def main() -> int:
    ap = parser()
    ap.add_argument("--batches", type=int, default=500, help="of 1,000 datapoints per round")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    arms = {"budget": (DRAIN_BUDGET_NS, "cpu"), "wall_budget": (DRAIN_BUDGET_NS, "wall"),
            "no_budget": (NO_BUDGET_NS, "cpu")}
    procs: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    rates: dict[str, list[float]] = {arm: [] for arm in arms}
    cpu_ns = dict.fromkeys(arms, 0)
    lost = dict.fromkeys(arms, 0)
    try:
        for arm, (budget, clock) in arms.items():
            procs[arm] = start(root, arm, budget, clock)
        for n in range(args.rounds):  # ABBA: neither arm is always the first
            for arm, (proc, run) in list(procs.items())[::1 if n % 2 == 0 else -1]:
                cpu0, _ = schedstat(proc.pid)
                rate, missing = end_to_end(run, args.batches)
                cpu_ns[arm] += schedstat(proc.pid)[0] - cpu0
                rates[arm].append(rate)
                lost[arm] += missing
    finally:
        for proc, _ in procs.values():
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(root)
    points = args.rounds * args.batches * BATCH
    result: dict[str, Any] = {"budget_ms": DRAIN_BUDGET_NS / 1e6, "batches": args.batches,
                              "rounds": args.rounds}
    for arm in arms:
        result[f"{arm}_per_s"] = round(statistics.median(rates[arm]))
        result[f"{arm}_rounds"] = [round(r) for r in rates[arm]]
        result[f"{arm}_cpu_us_per_1000"] = round(cpu_ns[arm] / points * 1000 / 1e3, 1)
        result[f"{arm}_lost"] = lost[arm]
    for arm in ("budget", "wall_budget"):
        result[f"{arm}_ratio"] = round(result[f"{arm}_per_s"] / result["no_budget_per_s"], 3)
        result[f"{arm}_cpu_ratio"] = round(result[f"{arm}_cpu_us_per_1000"]
                                           / result["no_budget_cpu_us_per_1000"], 3)
    for arm in arms:
        rounds = ", ".join(f"{r:,}" for r in result[f"{arm}_rounds"])
        print(f"{arm.replace('_', ' ')}: {result[f'{arm}_per_s']:,} datapoints/s median "
              f"(rounds {rounds}); CPU {result[f'{arm}_cpu_us_per_1000']} us per 1,000 "
              f"datapoints; lost {result[f'{arm}_lost']}")
    for arm in ("budget", "wall_budget"):
        print(f"{arm.replace('_', ' ')} ({result['budget_ms']:g} ms) / none: throughput "
              f"{result[f'{arm}_ratio']}, CPU per datapoint {result[f'{arm}_cpu_ratio']} "
              f"(1.0: it costs nothing)")
    return finish(args, result)


if __name__ == "__main__":
    sys.exit(main())
