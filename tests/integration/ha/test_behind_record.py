"""A standby that falls behind while a satellite streams, then takes over (issue 15).

Its broker hangs (SIGSTOP; its supervisor too, so the watchdog lets it be) until the
primary has 200 value batches unacknowledged (``wire.WINDOW``): the standby cannot keep
up. The primary must not acknowledge the
satellite beyond what the standby holds: the satellite keeps the rest in its buffer
and resends it, and the standby's record (mirrored ``~``, then its own after the
takeover) holds each sequence once, in order, with no gap. Before the fix the standby
was re-joined with a snapshot whose satellite claim skipped the values sent while it
was behind: a gap of the seconds it was behind, acknowledged to the satellite."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal

import pytest

from tests.integration.ha.support import CoreRecord, make_cores
from tests.integration.ha.test_failover import TAKEOVER_S, kill_tree
from tests.integration.satellite.support import counter

pytestmark = pytest.mark.slow

SEQ = "sat1.c1.seq"
BEHIND = "batches unacknowledged"  # the primary's warning at wire.WINDOW


@pytest.mark.timeout(300)  # three daemons, a hung broker and a failover on a busy host
def test_standby_that_fell_behind_takes_over_with_an_exact_record(daemon_factory) -> None:
    cores = make_cores(daemon_factory, [])
    p, s = cores.primary, cores.standby
    sat = cores.satellite(daemon_factory, [counter("c1", 1000)])
    rec = CoreRecord(s.run, "sat1.")
    gateway_log = p.data / "logs" / "satellite-gateway.log"
    try:
        s.wait_for(lambda: len(rec.seqs(SEQ)) > 1000, 30, "mirrored data on the standby")
        broker = s.instance("broker")["pid"]
        # the supervisor first, so its watchdog does not end the hung broker
        hung = [s.proc.pid, broker]
        for pid in hung:
            os.kill(pid, signal.SIGSTOP)
        try:
            p.wait_for(lambda: BEHIND in gateway_log.read_text(), 40,
                       "the primary sees the standby behind")
        finally:
            for pid in reversed(hung):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        assert s.instance("broker")["pid"] == broker, "the watchdog restarted the broker"
        # the standby's link (not a satellite's: its first connect may drop while trusted)
        assert "link lost; satellites' data no longer waits" not in gateway_log.read_text(), \
            "the mirror link was lost while the standby hung (host overloaded): a re-join"
        behind_at = sat.ctl_json("satellites")[0]["last_seq"]
        s.wait_for(lambda: max(rec.seqs(SEQ)) > behind_at + 3000, 60, "the standby caught up")
        kill_tree(p.proc.pid)
        s.wait_for(lambda: cores.ha(s)["role"] == "active", TAKEOVER_S + 5, "standby active")
        s.wait_for(lambda: s.ctl_json("satellites")[0]["state"] == "connected", 30,
                   "the satellite on the new core")
        last = sat.ctl_json("satellites")[0]["last_seq"]
        s.wait_for(lambda: max(rec.seqs(SEQ)) >= last, 30, "the rest arrived")
        seqs = rec.seqs(SEQ)
        mirrored = rec.seqs(SEQ, mirrored=True)
        assert mirrored and len(mirrored) < len(seqs), "mirrored, then taken"
        breaks = [(a, b) for a, b in itertools.pairwise(seqs) if b != a + 1]
        assert not breaks, f"{len(breaks)} breaks in the record, first {breaks[:5]}"
    finally:
        rec.close()
