"""A standby that re-joins while a satellite streams, then takes over (issue 15).

From the first value it mirrored after re-joining, its record of the satellite's
series (mirrored ``~``, then its own after the takeover) holds each sequence once, in
order, with no gap: the snapshot it gets on joining is state, not a change (stored, not
put on its change feed), and the satellite is acknowledged only for what was sent to
the standby, never for values still queued on the primary."""

from __future__ import annotations

import itertools

import pytest

from tests.integration.ha.support import CoreRecord, make_cores
from tests.integration.ha.test_failover import TAKEOVER_S, kill_tree
from tests.integration.satellite.support import counter

pytestmark = pytest.mark.slow

SEQ = "sat1.c1.seq"


@pytest.mark.timeout(300)  # three daemons, a restart and a failover on a busy host
def test_rejoined_standby_takes_over_with_an_exact_record(daemon_factory) -> None:
    cores = make_cores(daemon_factory, [])
    p, s = cores.primary, cores.standby
    sat = cores.satellite(daemon_factory, [counter("c1", 200)])
    rec = CoreRecord(s.run, "sat1.")
    try:
        s.wait_for(lambda: len(rec.seqs(SEQ)) > 100, 30, "mirrored data on the standby")
        s.stop()
        rec.mark()
        s.start()
        s.wait_for(lambda: cores.ha(s)["state"] == "mirroring", 30, "standby mirroring again")
        s.wait_for(lambda: len(rec.seqs(SEQ, life=-1)) > 200, 30, "mirrored again")
        kill_tree(p.proc.pid)
        s.wait_for(lambda: cores.ha(s)["role"] == "active", TAKEOVER_S, "standby active")
        s.wait_for(lambda: s.ctl_json("satellites")[0]["state"] == "connected", 30,
                   "the satellite on the new core")
        last = sat.ctl_json("satellites")[0]["last_seq"]
        s.wait_for(lambda: max(rec.seqs(SEQ, life=-1)) >= last, 30, "the rest arrived")
        seqs = rec.seqs(SEQ, life=-1)
        mirrored = rec.seqs(SEQ, life=-1, mirrored=True)
        assert mirrored and len(mirrored) < len(seqs), "mirrored, then taken"
        breaks = [(a, b) for a, b in itertools.pairwise(seqs) if b != a + 1]
        assert not breaks, f"{len(breaks)} breaks in the record, first {breaks[:5]}"
    finally:
        rec.close()
