"""The broker and historian of an idle daemon beat once per ``heartbeat_s``, not each
second (docs/idle-pacing.md, round 7): their totals (datapoints routed, rows recorded)
grow with every message and ride along; only a moved rate, count, flag or text is news.
Before, in a daemon's first minutes, each of them woke the supervisor every 1-2 s."""

from __future__ import annotations

import time

import pytest

from tests.integration.daemon import sim

WATCH_S = 11.0


@pytest.mark.slow
def test_the_busy_broker_and_historian_beat_once_per_period_while_rates_hold(
        daemon_factory) -> None:
    d = daemon_factory([sim(f"s{n}", rate_hz=5) for n in range(3)]).start()
    for n in range(3):
        d.wait_state(f"s{n}", "running")
    time.sleep(3)  # past the start-up, where the rates do move
    ages: dict[str, list[float]] = {"broker": [], "historian": []}
    end = time.monotonic() + WATCH_S
    while time.monotonic() < end:
        rows = {r["id"]: r for r in d.status()["instances"]}
        for iid, seen in ages.items():
            if rows[iid]["heartbeat_age_s"] is not None:
                seen.append(rows[iid]["heartbeat_age_s"])
        time.sleep(0.2)
    # a beat each second (the totals moving) would keep every age under ~1.5 s; once
    # per 5 s period they reach ~5 (a rate that really moved may add one beat)
    for iid, seen in ages.items():
        assert 3.0 < max(seen) < 15, (iid, seen)
    rows = {r["id"]: r for r in d.status()["instances"]}
    assert rows["broker"]["network_packets_recv"] > 0  # it did route meanwhile
    assert all(rows[f"s{n}"]["status"] == "running" for n in range(3))
