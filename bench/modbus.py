"""modbus worker throughput: registers/s per Modbus TCP device. Prints figures; asserts
nothing (the machine is shared).

    python bench/modbus.py [--json] [--seconds 5] [--devices 1] [--registers 1000]

Each device is pymodbus's own TCP server in a process of its own on 127.0.0.1. A real
daemon runs one ``modbus`` worker per device, polling ``--registers`` holding registers
as fast as it can (strings of 125 registers: full-size requests, few datapoints, so the
figure is the bus side, not publishing); the worker's own counters, as its heartbeat
reports them, give registers/s. For scale, the same reads from a bare pymodbus client
in this process, without worker or daemon.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pymodbus.client import ModbusTcpClient

from bench.beats import row_after
from bench.common import finish, parser, scratch
from tests.integration.daemon import Daemon

BLOCK = 125  # registers per request, the protocol's maximum


def start_server() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.integration.modbus.peers"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def instance(iid: str, port: int, registers: int) -> dict[str, Any]:
    regs = [{"name": f"block{n}", "address": n * BLOCK, "type": "string",
             "count": min(BLOCK, registers - n * BLOCK)}
            for n in range(math.ceil(registers / BLOCK))]
    return {"id": iid, "type": "modbus", "limits": {"max_pps": 1_000_000},
            "config": {"host": "127.0.0.1", "port": port, "poll_interval_s": 0.001,
                       "timeout_s": 2, "registers": regs}}


def bare_client(port: int, registers: int, seconds: float) -> float:
    """Registers/s of a plain synchronous pymodbus client doing the same reads."""
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for start in range(0, registers, BLOCK):
            count = min(BLOCK, registers - start)
            client.read_holding_registers(start, count=count, device_id=1)
            done += count
    client.close()
    return done / (time.perf_counter() - t0)


def main() -> int:
    ap = parser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--devices", type=int, default=1)
    ap.add_argument("--registers", type=int, default=1000)
    args = ap.parse_args()
    servers = [start_server() for _ in range(args.devices)]
    ids = [f"mb_bench_{n}" for n in range(args.devices)]
    d = Daemon(scratch("bench-modbus-"),
               [instance(i, port, args.registers) for i, (_, port) in zip(ids, servers,
                                                                           strict=True)])
    try:
        d.start(timeout=60)
        d.wait_for(lambda: all(d.instance(i)["bus"].get("registers", 0) > 0 for i in ids),
                   30, "first reads")
        time.sleep(1.5)  # past start-up
        workers = {i: psutil.Process(d.instance(i)["pid"]) for i in ids}
        # the totals as of a heartbeat (they ride along, bench/beats.py), the CPU at once
        beats0 = {i: row_after(d, i, time.monotonic()) for i in ids}
        before = {i: (beats0[i][0]["bus"], workers[i].cpu_times()) for i in ids}
        t0 = time.monotonic()
        time.sleep(args.seconds)
        after = {i: (d.instance(i)["bus"], workers[i].cpu_times()) for i in ids}
        dt = time.monotonic() - t0
        beats1 = {i: row_after(d, i, t0 + args.seconds) for i in ids}
        beat_dt = {i: beats1[i][1] - beats0[i][1] for i in ids}
        totals1 = {i: beats1[i][0]["bus"] for i in ids}
    finally:
        d.stop()
        d.cleanup()
    per_device = []
    for i in ids:
        (b0, c0), (b1, c1) = before[i], after[i]
        t1 = totals1[i]
        answers = t1["responses"] - b0["responses"]
        per_device.append({
            "id": i, "registers_per_s": round((t1["registers"] - b0["registers"]) / beat_dt[i]),
            "requests_per_s": round((t1["requests"] - b0["requests"]) / beat_dt[i], 1),
            "latency_ms": b1["latency_ms"], "errors": b1["errors"] - b0["errors"],
            "answers": answers,
            "worker_cpu_percent": round(((c1.user + c1.system) - (c0.user + c0.system))
                                        / dt * 100, 1)})
    bare = bare_client(servers[0][1], args.registers, min(args.seconds, 3))
    for proc, _ in servers:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    result = {"devices": args.devices, "registers": args.registers,
              "registers_per_request": BLOCK, "sample_seconds": args.seconds,
              "per_device": per_device,
              "registers_per_s_per_device": round(
                  sum(p["registers_per_s"] for p in per_device) / len(per_device)),
              "bare_client_registers_per_s": round(bare)}
    for p in per_device:
        print(f"{p['id']}: {p['registers_per_s']} registers/s over Modbus TCP "
              f"({p['requests_per_s']} requests/s of up to {BLOCK} registers, "
              f"latency {p['latency_ms']} ms, worker CPU {p['worker_cpu_percent']} %, "
              f"{p['errors']} errors)")
    print("bare pymodbus sync client, same reads, no worker: "
          f"{result['bare_client_registers_per_s']} registers/s")
    return finish(args, result)


if __name__ == "__main__":
    sys.exit(main())
