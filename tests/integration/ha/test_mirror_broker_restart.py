"""The standby's broker dies (kill -9) and restarts while a satellite streams (issue 15).

The batch the mirror was storing when the broker died is lost with it; the mirror
notices (the restarted broker answers a later request first) and stores it again, so
the primary, which waits 30 s for an acknowledgement, never gives up on the standby:
no re-join, the mirror link stays up. (Before, the mirror waited 30 s for the lost
request, and meanwhile took the primary's messages it could not read for silence and
asked to fail over.) Real daemons."""

from __future__ import annotations

import os
import signal

import pytest

from tests.integration.ha.support import CoreRecord, make_cores
from tests.integration.satellite.support import counter

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SEQ = "sat1.c1.seq"


def test_standby_broker_restart_keeps_the_mirror(daemon_factory) -> None:
    cores = make_cores(daemon_factory, [])
    p, s = cores.primary, cores.standby
    sat = cores.satellite(daemon_factory, [counter("c1", 500)])
    rec = CoreRecord(s.run, "sat1.")
    try:
        s.wait_for(lambda: len(rec.seqs(SEQ)) > 500, 30, "mirrored data on the standby")
        broker = s.instance("broker")["pid"]
        mirror_log = s.data / "logs" / "ha-mirror.log"
        before = len(mirror_log.read_text())
        # frozen first, so the batch the mirror is storing is in the broker's socket
        # when it dies (the primary sees the standby stop acknowledging)
        os.kill(broker, signal.SIGSTOP)
        p.wait_for(lambda: cores.ha(p)["lag_dp"] > 200, 30, "the standby stuck storing")
        os.kill(broker, signal.SIGKILL)
        s.wait_for(lambda: s.instance("broker")["pid"] not in (None, broker)
                   and s.instance("broker")["status"] == "running", 30, "broker restarted")
        last = sat.ctl_json("satellites")[0]["last_seq"]
        s.wait_for(lambda: max(rec.seqs(SEQ)) >= last, 60, "mirrored after the restart")
        gateway_log = (p.data / "logs" / "satellite-gateway.log").read_text()
        assert "told to re-join" not in gateway_log
        since = mirror_log.read_text()[before:]
        assert "re-joining" not in since and "fresh snapshot" not in since
        assert "failover" not in since  # our stuck broker is no silent primary
        assert s.instance("ha-mirror")["restarts"] == 0
    finally:
        rec.close()
