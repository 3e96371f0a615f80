"""Admin UI figures: RSS and CPU of the ``edgeos: admin-ui`` process while headless
Chromium pages watch the instances page of a daemon with 20 simulated instances; then
one page open on a level of a 10,000-datapoint tree that all change every second
(published straight to the broker), with the page's responsiveness (round trip of a
script call into the page while it receives live values).
Prints figures; asserts nothing (the machine is shared).

    python bench/admin_ui.py [--json] [--seconds 20] [--instances 20] [--browsers 3]
                             [--datapoints 10000]

Needs Debian's chromium (/usr/bin/chromium) and the playwright package.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeos.ipc import addresses, protocol

from bench.common import finish, parser
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.integration.admin_ui.web import WebDaemon
from tests.integration.daemon import sim

MB = 1024 * 1024
PROFILES = ("plc", "bms", "inverter", "meter")
BULK = "bulk"  # a disabled instance whose datapoints this script publishes itself
GROUP = 100


def publish_bulk(run_dir: Path, count: int, stop: threading.Event) -> None:
    """Every second, a new value for each of ``count`` datapoints ``bulk.gNNN.pNNN``."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, BULK.encode())
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(addresses.endpoint(run_dir, addresses.BROKER))
    paths = [f"g{n // GROUP:03d}.p{n % GROUP:03d}" for n in range(count)]
    tick = 0
    while not stop.is_set():
        ts = protocol.now_ms()
        for start in range(0, count, 1000):
            batch = [[p, tick + i, ts, "good", True, "W"]
                     for i, p in enumerate(paths[start:start + 1000])]
            sock.send_multipart([protocol.DP, protocol.pack(batch)])
        tick += 1
        stop.wait(1.0)
    sock.close()
    ctx.term()


def responsiveness(page: object, seconds: float) -> dict[str, float]:
    """Round trips of a trivial script call into the page: its main thread's delay."""
    trips = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        page.evaluate("1")  # type: ignore[attr-defined]
        trips.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.1)
    trips.sort()
    return {"roundtrip_median_ms": round(statistics.median(trips), 2),
            "roundtrip_p95_ms": round(trips[int(len(trips) * 0.95) - 1], 2)}


def sample(proc: psutil.Process, seconds: float) -> dict[str, float]:
    """CPU % of one core over ``seconds`` and RSS at the end, in 1 s steps."""
    cpu = []
    rss = []
    proc.cpu_percent(None)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(1.0)
        cpu.append(proc.cpu_percent(None))
        rss.append(proc.memory_info().rss / MB)
    return {"cpu_mean_percent": round(sum(cpu) / len(cpu), 2), "cpu_max_percent": max(cpu),
            "rss_mb": round(rss[-1], 1), "rss_max_mb": round(max(rss), 1)}


def main() -> int:
    ap = parser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--instances", type=int, default=20)
    ap.add_argument("--browsers", type=int, default=3)
    ap.add_argument("--datapoints", type=int, default=10_000)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="eo-bench-ui-"))
    conns = [sim(f"sim_{n:02d}", PROFILES[n % 4], rate_hz=2) for n in range(args.instances)]
    conns.append(sim(BULK, enabled=False, limits={"max_pps": args.datapoints * 10}))
    ui = WebDaemon(root, conns).start()
    figures: dict[str, object] = {"instances": args.instances, "browsers": args.browsers,
                                  "seconds": args.seconds}
    try:
        proc = psutil.Process(ui.d.instance("admin-ui")["pid"])
        figures["idle"] = sample(proc, min(args.seconds, 10))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pages = []
            for _ in range(args.browsers):
                ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                page = ctx.new_page()
                page.goto(ui.base + "/login")
                page.fill("#password", WebDaemon.PASSWORD)
                page.click("#login-button")
                page.wait_for_selector(f'.card[data-id="sim_{args.instances - 1:02d}"]')
                pages.append(page)
            figures["watched"] = sample(proc, args.seconds)
            figures["cards_per_page"] = [pg.locator(".card").count() for pg in pages]
            figures["watched_responsiveness"] = responsiveness(pages[0], 5)
            for pg in pages[1:]:
                pg.context.close()
            stop = threading.Event()
            feeder = threading.Thread(target=publish_bulk,
                                      args=(ui.d.run, args.datapoints, stop), daemon=True)
            feeder.start()
            try:
                page = pages[0]
                page.goto(ui.base + f"/#/datapoints?prefix={BULK}.g007.")
                page.wait_for_selector(f'tr[data-address="{BULK}.g007.p099"]', timeout=30_000)
                figures["tree"] = {**sample(proc, args.seconds),
                                   **responsiveness(page, 5),
                                   "rows_shown": page.locator("#dp-table tbody tr").count()}
            finally:
                stop.set()
                feeder.join(5)
            browser.close()
    finally:
        ui.close()
        shutil.rmtree(root, ignore_errors=True)
    idle, watched = figures["idle"], figures["watched"]
    print(f"admin UI, {args.instances} instances, idle:     CPU {idle['cpu_mean_percent']:.2f} % "
          f"of a core (max {idle['cpu_max_percent']:.1f}), RSS {idle['rss_mb']:.1f} MB")
    print(f"admin UI, {args.browsers} pages watching:     CPU "
          f"{watched['cpu_mean_percent']:.2f} % of a core (max {watched['cpu_max_percent']:.1f}), "
          f"RSS {watched['rss_mb']:.1f} MB (max {watched['rss_max_mb']:.1f})")
    tree = figures["tree"]
    print(f"admin UI, one page on {BULK}.g007. of {args.datapoints} datapoints changing "
          f"every second: CPU {tree['cpu_mean_percent']:.1f} % of a core, RSS "
          f"{tree['rss_mb']:.1f} MB; page round trip median {tree['roundtrip_median_ms']} ms, "
          f"p95 {tree['roundtrip_p95_ms']} ms")
    return finish(args, figures)


if __name__ == "__main__":
    sys.exit(main())
