"""The idle supervisor's one 1 Hz pass (issue 16) on a real daemon: the watchdog that
runs in it (no timer per worker) still kills and restarts a hung worker, and the lean
``figures`` feed the historian keeps carries every live instance's figures."""

from __future__ import annotations

import zmq
from edgeos.ipc import addresses, protocol

from tests.integration.daemon import sim


def test_a_hung_worker_is_killed_by_the_watchdog_pass_and_restarted(daemon_factory) -> None:
    d = daemon_factory([sim("hung", fault={"kind": "hang", "after_s": 0.5},
                            limits={"heartbeat_s": 1}), sim("fine")]).start()
    pid = d.instance("hung")["pid"]
    fine = d.instance("fine")["pid"]
    d.wait_for(lambda: d.instance("hung")["pid"] not in (None, pid), 20, "hung restarted")
    assert "no heartbeat" in (d.instance("hung")["last_error"] or "")
    assert "watchdog: no heartbeat" in d.daemon_log()
    assert d.instance("fine")["pid"] == fine  # its heartbeats kept it alive


def test_figures_feed_has_every_live_instance(daemon_factory) -> None:
    d = daemon_factory([sim("a", rate_hz=2), sim("b")]).start()
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    try:
        sub.connect(addresses.endpoint(d.run, addresses.EVENTS))
        sub.setsockopt(zmq.SUBSCRIBE, b"figures")
        rows: dict[str, list[float]] = {}

        def live() -> set[str]:
            return {i["id"] for i in d.status()["instances"] if i["pid"]}

        def heard() -> bool:
            while sub.poll(100):
                topic, body = sub.recv_multipart()
                assert topic == b"figures"
                rows.update({r[0]: r[1:] for r in protocol.unpack(body)})
            return {"a", "b", "broker"} <= set(rows) and rows["a"][3] > 0 \
                and set(rows) >= live()

        # a row of every instance comes with the full pass, every 15 s while nobody
        # watches stats (an instance ready after one pass is in the next)
        d.wait_for(heard, 40, "figures of every live instance, a's rate")
        assert set(rows) == live()
        for iid, (cpu, mem, pps_in, pps_out) in rows.items():
            assert cpu >= 0 and mem > 0 and pps_in >= 0 and pps_out >= 0, iid
    finally:
        sub.close(0)
