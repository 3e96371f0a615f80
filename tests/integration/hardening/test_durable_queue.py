"""The webhook worker's deliveries wait on disk (issue 17 item 15): a crash or a
restart of the worker or the daemon loses nothing that waits; delivery resumes in
order; the queue is bounded and overflow counted. The MQTT bridge's offline queue is
the same durable queue (tests/integration/mqtt/test_bridge_outage.py)."""

from __future__ import annotations

import os
import signal

from tests.integration.daemon import sim
from tests.integration.webhook.test_webhook import Endpoint, free_port, hook


def test_webhook_queue_survives_kill_9_and_daemon_restart_in_order(daemon_factory) -> None:
    port = free_port()  # nothing listens yet: every request fails and is retried
    d = daemon_factory([sim("plc_1"), hook("hook", f"http://127.0.0.1:{port}/x",
                                           retries=100, backoff_s=0.2, backoff_max_s=0.2,
                                           timeout_s=2)]).start()
    for n in range(5):
        d.call("set", address="hook.n", value=n, wait=False)
    d.wait_for(lambda: d.instance("hook")["bus"].get("queued") == 4, what="4 waiting + 1 busy")
    pid = d.instance("hook")["pid"]
    os.kill(pid, signal.SIGKILL)
    d.wait_for(lambda: (i := d.instance("hook"))["status"] == "running" and i["pid"] != pid,
               what="worker back")
    for n in range(5, 8):
        d.call("set", address="hook.n", value=n, wait=False)
    d.wait_for(lambda: d.instance("hook")["bus"].get("queued") == 7, what="all 8 on disk")
    d.stop()  # and the whole daemon
    d.start()
    e = Endpoint(port)
    try:
        d.wait_for(lambda: len(e.requests) >= 8, 20, "everything delivered")
        assert [b["value"] for b in e.bodies()] == list(range(8))
        bus = d.wait_for(lambda: (b := d.instance("hook")["bus"])["queued"] == 0 and b,
                         what="queue empty")
        assert bus["dropped"] == 0
    finally:
        e.close()
    assert (d.data / "webhook" / "hook.db").stat().st_mode & 0o777 == 0o600
