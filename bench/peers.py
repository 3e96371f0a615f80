"""edgeos against circus and supervisord, the same load under all three in one run.

    python bench/peers.py [--json] [--workers 20] [--seconds 30] [--venv DIR]

Installs circus and supervisor (supervisord) with pip into a throw-away venv under
/tmp (or reuses ``--venv``), then for each manager: N idle workers, restart latency
after kill -9 (median of 20 for edgeos, with its stages: bench/restart_stages.py;
of 10 for the peers), the manager's idle CPU (all its threads' run time from
``schedstat``, in ns) and RSS/PSS over ``--seconds``,
the status round trip (median of 20) and the time to stop everything. edgeos runs its
real simulator workers (heartbeats, 1 datapoint/s each: more work than the peers'
idle sleepers, so its ratios are conservative); circus and supervisord run a sleeper
that writes its pid to a ready file when up. The peers run from their pip venv with
its .pyc files, so edgeos's modules are byte-compiled first as an install would
(bench/bytecode.py; from source, as with PYTHONDONTWRITEBYTECODE in a checkout, the
supervisor measured 0.8 MB more RSS). Restart latency is kill -9 until the
replacement is up: READY for edgeos, the ready file for the peers. Prints a table
with edgeos's ratio to each peer; asserts nothing. Targets (issue 16): restart >= 20x
faster than supervisord; idle CPU and RSS no worse than circus.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
import xmlrpc.client
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bytecode import compile_edgeos
from bench.common import finish, parser
from bench.restart_stages import describe, restarts, summary
from tests.integration.daemon import Daemon, sim

MB = 1024 * 1024
SLEEPER = textwrap.dedent("""\
    import os, signal, sys
    ready = os.path.join(sys.argv[1], sys.argv[2] + ".ready")
    with open(ready + ".tmp", "w") as fh:
        fh.write(str(os.getpid()))
    os.replace(ready + ".tmp", ready)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    while True:
        signal.pause()
""")


def pss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_ns(pid: int) -> dict[str, int]:
    """CPU time of each thread of ``pid`` in ns (``/proc/<pid>/task/*/schedstat``):
    the clock-tick counters (``cpu_times``) resolve only 0.033 % over 30 s, which is
    a peer's whole idle cost."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            out[tid] = int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
    return out


def idle_figures(pid: int, seconds: float) -> dict[str, float]:
    proc = psutil.Process(pid)
    c0, n0, t0 = proc.cpu_times(), run_ns(pid), time.monotonic()
    time.sleep(seconds)
    c1, n1, t1 = proc.cpu_times(), run_ns(pid), time.monotonic()
    if n1:  # a thread that ended meanwhile is missed; the managers' threads live on
        cpu = sum(ns - n0.get(tid, 0) for tid, ns in n1.items()) / 1e9 / (t1 - t0) * 100
    else:  # no schedstat (kernel without it): clock ticks
        cpu = ((c1.user + c1.system) - (c0.user + c0.system)) / (t1 - t0) * 100
    return {"idle_cpu_percent": round(cpu, 3), "rss_mb": round(proc.memory_info().rss / MB, 1),
            "pss_mb": round(pss_mb(pid), 1)}


def wait(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.001)
    raise TimeoutError(what)


def ready_pid(run: Path, name: str) -> int | None:
    try:
        return int((run / f"{name}.ready").read_text())
    except (OSError, ValueError):
        return None


def peer_restarts(run: Path, names: list[str], n: int) -> list[float]:
    """kill -9 a sleeper, then time until its replacement wrote the ready file."""
    out = []
    for name in names[:n]:
        old = ready_pid(run, name)
        assert old is not None
        t0 = time.perf_counter()
        os.kill(old, signal.SIGKILL)
        wait(lambda name=name, old=old: ready_pid(run, name) not in (None, old), 30,
             f"{name} restarted")
        out.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.2)
    return out


def median_ms(call: Callable[[], Any], n: int = 20) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2)


def stop_s(proc: subprocess.Popen[bytes], pids: list[int]) -> float:
    """SIGTERM the manager; seconds until it and all its workers are gone."""
    t0 = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    wait(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                         for p in pids), 30, "workers gone")
    return round(time.perf_counter() - t0, 3)


def make_venv(where: Path) -> Path:
    """A throw-away venv with circus and supervisor from PyPI."""
    python = where / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "circus", "supervisor"],
                   check=True)
    return python


# -- edgeos ------------------------------------------------------------------------------
def run_edgeos(workers: int, seconds: float, restart_count: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="peers-edgeos-"))
    ids = [f"idle_{n:02d}" for n in range(workers)]
    d = Daemon(root, [sim(i, "plc", rate_hz=1) for i in ids])
    try:
        d.start(timeout=120)
        assert d.proc is not None
        time.sleep(3)
        stages = summary(restarts(d, ids, restart_count))
        time.sleep(2)
        status_ms = median_ms(lambda: d.call("status"))
        if d._client is not None:  # nothing talks to the daemon while it idles
            d._client.close()
            d._client = None
        figures = idle_figures(d.proc.pid, seconds)
        pids = [p.pid for p in psutil.Process(d.proc.pid).children(recursive=True)]
        stop = stop_s(d.proc, pids)
        d.log.close()
    finally:
        d.cleanup()
        shutil.rmtree(root, ignore_errors=True)
    return {"restart_ms": stages.get("total_ms"), **figures,
            "status_ms": status_ms, "stop_all_s": stop, "restart": stages}


# -- circus ------------------------------------------------------------------------------
def run_circus(python: Path, workers: int, seconds: float) -> dict[str, Any]:
    run = Path(tempfile.mkdtemp(prefix="peers-circus-"))
    (run / "sleeper.py").write_text(SLEEPER)
    names = [f"w{n:02d}" for n in range(workers)]
    ini = [f"[circus]\nendpoint = ipc://{run}/ctl.sock\npubsub_endpoint = ipc://{run}/pub.sock\n"
           "statsd = False\n"]
    ini += [f"[watcher:{n}]\ncmd = {python} {run}/sleeper.py {run} {n}\nnumprocesses = 1\n"
            "warmup_delay = 0\n" for n in names]
    (run / "circus.ini").write_text("\n".join(ini))
    proc = subprocess.Popen([str(python.parent / "circusd"), str(run / "circus.ini")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"ipc://{run}/ctl.sock")

    def status() -> Any:
        sock.send_string(json.dumps({"id": uuid.uuid4().hex, "command": "status",
                                     "properties": {}}))
        if not sock.poll(10_000):
            raise TimeoutError("circus status")
        return json.loads(sock.recv())

    try:
        wait(lambda: all(ready_pid(run, n) for n in names), 120, "circus workers up")
        time.sleep(3)
        lat = peer_restarts(run, names, 10)
        time.sleep(2)
        status_ms = median_ms(status)
        figures = idle_figures(proc.pid, seconds)
        pids = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        stop = stop_s(proc, pids)
    finally:
        sock.close(0)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        shutil.rmtree(run, ignore_errors=True)
    return {"restart_ms": round(statistics.median(lat), 1), **figures,
            "status_ms": status_ms, "stop_all_s": stop}


# -- supervisord -------------------------------------------------------------------------
class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost")
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


class UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return UnixHTTP(self.path)


def run_supervisord(python: Path, workers: int, seconds: float) -> dict[str, Any]:
    run = Path(tempfile.mkdtemp(prefix="peers-supd-"))
    (run / "sleeper.py").write_text(SLEEPER)
    names = [f"w{n:02d}" for n in range(workers)]
    conf = [f"[unix_http_server]\nfile = {run}/supd.sock\nchmod = 0600\n",
            f"[supervisord]\nnodaemon = true\nlogfile = {run}/supd.log\n"
            f"pidfile = {run}/supd.pid\nchildlogdir = {run}\n",
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"]
    conf += [f"[program:{n}]\ncommand = {python} {run}/sleeper.py {run} {n}\n"
             "autorestart = true\nstdout_logfile = NONE\nstderr_logfile = NONE\n"
             for n in names]
    (run / "supd.conf").write_text("\n".join(conf))
    proc = subprocess.Popen([str(python.parent / "supervisord"), "-c", str(run / "supd.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rpc = xmlrpc.client.ServerProxy("http://localhost", transport=UnixTransport(
        str(run / "supd.sock")))
    try:
        wait(lambda: all(ready_pid(run, n) for n in names), 120, "supervisord workers up")
        time.sleep(3)
        lat = peer_restarts(run, names, 10)
        time.sleep(2)
        status_ms = median_ms(lambda: rpc.supervisor.getAllProcessInfo())
        figures = idle_figures(proc.pid, seconds)
        pids = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        stop = stop_s(proc, pids)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        shutil.rmtree(run, ignore_errors=True)
    return {"restart_ms": round(statistics.median(lat), 1), **figures,
            "status_ms": status_ms, "stop_all_s": stop}


# -- report ------------------------------------------------------------------------------
METRICS = [("restart_ms", "restart after kill -9, median ms"),
           ("idle_cpu_percent", "idle manager CPU, % of a core"),
           ("rss_mb", "manager RSS, MB"), ("pss_mb", "manager PSS, MB"),
           ("status_ms", "status round trip, median ms"),
           ("stop_all_s", "stop everything, s")]


def table(results: dict[str, dict[str, Any]]) -> str:
    names = list(results)
    head = ["metric", *names, *(f"edgeos/{n}" for n in names if n != "edgeos")]
    rows = [head]
    for key, label in METRICS:
        ours = results["edgeos"][key]
        ratios = [f"{ours / results[n][key]:.2f}x" if results[n][key] else "-"
                  for n in names if n != "edgeos"]
        rows.append([label, *(str(results[n][key]) for n in names), *ratios])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
                     for r in rows)


def main() -> int:
    ap = parser()
    ap.add_argument("--workers", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--venv", help="reuse (or create) this venv for circus/supervisor")
    ap.add_argument("--restarts", type=int, default=20,
                    help="edgeos restarts to time (each of that many workers killed once)")
    args = ap.parse_args()
    own = args.venv is None
    where = Path(args.venv or tempfile.mkdtemp(prefix="edgeos-peers-venv-"))
    try:
        python = make_venv(where)
        compile_edgeos()  # the peers run with their .pyc files: ours too (bench/bytecode.py)
        results = {"edgeos": run_edgeos(args.workers, args.seconds,
                                        max(10, min(args.restarts, args.workers))),
                   "circus": run_circus(python, args.workers, args.seconds),
                   "supervisord": run_supervisord(python, args.workers, args.seconds)}
    finally:
        if own:
            shutil.rmtree(where, ignore_errors=True)
    print(f"{args.workers} idle workers per manager, idle figures over {args.seconds:g} s")
    print(table(results))
    print(f"edgeos {describe(results['edgeos']['restart'])}")
    rs = results["supervisord"]["restart_ms"] / results["edgeos"]["restart_ms"]
    print(f"restart: edgeos {rs:.1f}x faster than supervisord (target >= 20x); idle CPU "
          f"{results['edgeos']['idle_cpu_percent']} vs circus "
          f"{results['circus']['idle_cpu_percent']} %, RSS {results['edgeos']['rss_mb']} vs "
          f"{results['circus']['rss_mb']} MB (target: no worse than circus)")
    return finish(args, results)


if __name__ == "__main__":
    sys.exit(main())
