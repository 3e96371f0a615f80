"""The idle pacing of issue 16 on a real daemon (docs/idle-pacing.md): a worker whose
figures do not move beats once per ``heartbeat_s`` instead of every second, stays
alive (the watchdog counts those beats), and its ``figures`` row reaches the
historian's topic with the full pass every 15 s (supervisor/figures_pace.py) instead of
every second."""

from __future__ import annotations

import time

import pytest
import zmq
from edgeos.ipc import addresses, protocol

from tests.integration.daemon import sim

WATCH_S = 16.0  # a full figures period (15 s) and a second


@pytest.mark.slow
def test_a_quiet_worker_beats_every_heartbeat_s_and_its_row_goes_out_every_15_s(
        daemon_factory) -> None:
    # 0.01 Hz: one update at start, then none for 100 s: its rates stay 0
    d = daemon_factory([sim("quiet", rate_hz=0.01)]).start()
    pid = d.wait_state("quiet", "running")["pid"]
    time.sleep(2)  # past its first second (the start-up update moved its rate)
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    try:
        sub.connect(addresses.endpoint(d.run, addresses.EVENTS))
        sub.setsockopt(zmq.SUBSCRIBE, b"figures")
        rows, ages = 0, []
        end = time.monotonic() + WATCH_S
        while time.monotonic() < end:
            ages.append(d.instance("quiet")["heartbeat_age_s"])
            while sub.poll(250):
                _, body = sub.recv_multipart()
                rows += sum(1 for r in protocol.unpack(body) if r[0] == "quiet")
    finally:
        sub.close(0)
    assert 2.5 < max(a for a in ages if a is not None) < 15  # 1 Hz beats: never over ~1
    assert 1 <= rows <= 2, rows  # every second would be 16
    inst = d.instance("quiet")
    assert inst["status"] == "running" and inst["pid"] == pid and inst["restarts"] == 0
