"""Micro-benchmark of edgeos.ipc.routing: load time and Router.route cost per datapoint.

Loads 1,000 routes (10% wildcard) over 50 instances and times the hot-path cases the broker
sees. Prints figures only; nothing here asserts on time.

    .venv/bin/python bench/routing_engine.py
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from edgeos.ipc.routing import Router, load_routing

log = logging.getLogger("bench.routing_engine")

INSTANCES = [f"plc_{n:03d}" for n in range(50)]
ROUTES = 1000
WILDCARD_SHARE = 10  # every 10th route has a pattern as its source


def build_doc() -> dict[str, Any]:
    routes = []
    for n in range(ROUTES):
        instance = INSTANCES[n % len(INSTANCES)]
        route: dict[str, Any] = {"id": f"r{n}", "to": f"{INSTANCES[(n + 1) % 50]}.IN.v{n}"}
        if n % WILDCARD_SHARE == 0:
            route["from"] = f"{instance}.GVL{n}.*.fTemp"
        else:
            route["from"] = f"{instance}.MAIN.v{n}"
        if n % 7 == 1:
            route["transform"] = "scale(0.001)"
        if n % 7 == 2:
            route["condition"] = "value > 10 and quality == 'good'"
        routes.append(route)
    return {"version": "1.0", "routes": routes}


def per_call(function: Callable[[], Any], calls: int) -> float:
    """Best of five runs, in microseconds per call."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        best = min(best, time.perf_counter() - start)
    return best / calls * 1e6


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    doc = build_doc()
    start = time.perf_counter()
    table = load_routing(doc, source="bench", instance_ids=INSTANCES)
    log.info("load_routing, %d routes: %.1f ms", ROUTES, (time.perf_counter() - start) * 1e3)
    router = Router(table, lookup=lambda address: None)
    route = router.route
    cases: dict[str, Callable[[], Any]] = {
        "exact route, no transform": lambda: route("plc_003.MAIN.v3", 1.5, 0, "good", True),
        "exact route, scale()": lambda: route("plc_001.MAIN.v1", 1500, 0, "good", True),
        "exact route, condition": lambda: route("plc_002.MAIN.v2", 15, 0, "good", True),
        "wildcard route (cached)": lambda: route("plc_010.GVL10.x.fTemp", 21.5, 0, "good", True),
        "no route (cached miss)": lambda: route("plc_004.MAIN.other", 1, 0, "good", True),
        "command, no bidirectional route": lambda: route("plc_004.IN.v3", 1, 0, "good", False),
    }
    for name, function in cases.items():
        micros = per_call(function, 200_000)
        log.info("%-38s %6.2f us/call  %9.0f calls/s", name, micros, 1e6 / micros)
    stream = [f"plc_{n % 50:03d}.MAIN.v{n}" for n in range(0, ROUTES, 3)]  # 1 in 3 routed
    stream += [f"plc_{n % 50:03d}.MAIN.unrouted{n}" for n in range(len(stream) * 2)]
    stream += [f"plc_{n % 50:03d}.GVL{n}.k{n}.fTemp" for n in range(0, ROUTES, WILDCARD_SHARE)]
    start = time.perf_counter()
    passes = 20
    for _ in range(passes):
        for address in stream:
            route(address, 1.5, 0, "good", True)
    micros = (time.perf_counter() - start) / (passes * len(stream)) * 1e6
    log.info(
        "%-38s %6.2f us/call  %9.0f calls/s",
        f"mixed stream ({len(stream)} addresses)",
        micros,
        1e6 / micros,
    )
    counter = iter(range(10**9))
    micros = per_call(
        lambda: route(f"plc_005.GVL{next(counter)}.a.fTemp", 1, 0, "good", True), 20_000
    )
    log.info(
        "%-38s %6.2f us/call  %9.0f calls/s",
        "new address (trie walk + cache fill)",
        micros,
        1e6 / micros,
    )


if __name__ == "__main__":
    main()
