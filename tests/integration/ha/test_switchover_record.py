"""A planned switch-over while a satellite streams a counter, the satellite reaching the
new active core only after the old primary re-joined it as a standby (issue 15).

The old primary published the counter as its own up to where it handed over; its
re-joining HELLO says what it holds, so the new active core mirrors to it only what
follows: no sequence twice in either core's record. A command to the satellite on the
new active core while the satellite is still on its way is delivered once it arrives,
exactly once. Real daemons; the satellite's path to the standby is a relay the test
cuts like a cable.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.integration.ha.support import CoreRecord, free_listen, make_cores
from tests.integration.satellite.relay import Relay
from tests.integration.satellite.support import counter

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SEQ = "sat1.c1.seq"


def twice(rec: CoreRecord) -> list[int]:
    return sorted(s for s, n in Counter(rec.seqs(SEQ)).items() if n > 1)


def relay_to(listen: str) -> Relay:
    host, port = listen.rsplit(":", 1)
    return Relay(host, int(port), host=free_listen().split(":")[0])


def test_switchover_doubles_nothing_and_delivers_the_command(daemon_factory) -> None:
    cores = make_cores(daemon_factory, [])
    p, s = cores.primary, cores.standby
    to_p, to_s = relay_to(cores.primary_listen), relay_to(cores.standby_listen)
    recs = [CoreRecord(p.run, "sat1."), CoreRecord(s.run, "sat1.")]
    try:
        sat = daemon_factory([counter("c1", 1000)], extra_args=[
            "--satellite", "--satellite-id", "sat1",
            "--core-host", f"{to_p.host}:{to_p.port},{to_s.host}:{to_s.port}",
            f"--core-key={cores.primary_key},{cores.standby_key}"]).start()
        done = p.ctl("satellites", "trust", "--id", "sat1", "--",
                     sat.ctl_json("node-key")["key"])
        assert done.returncode == 0, done.stderr
        p.wait_for(lambda: len(recs[0].seqs(SEQ)) > 2000, 30, "the counter on the primary")
        to_s.cut()  # the satellite finds the new active core only later
        done = s.ctl("ha", "promote", "--reason", "test")
        assert done.returncode == 0, done.stderr
        p.wait_for(lambda: cores.ha(p)["role"] == "standby"
                   and cores.ha(p)["state"] == "mirroring", 30, "old primary mirrors")
        # the satellite is not on the new core yet: the command waits for it
        assert s.ctl_json("satellites")[0]["state"] != "connected"
        done = s.ctl("set", "--no-wait", "sat1.c1.setpoint", "7")
        assert done.returncode == 0, done.stderr
        to_s.restore()
        s.wait_for(lambda: s.ctl_json("satellites")[0]["state"] == "connected", 30,
                   "the satellite on the new core")
        last = sat.ctl_json("satellites")[0]["last_seq"]
        p.wait_for(lambda: max(recs[0].seqs(SEQ)) >= last, 30, "mirrored on the old primary")
        mirrored = recs[0].seqs(SEQ, mirrored=True)
        assert mirrored, "the old primary mirrored the counter after the switch-over"
        assert twice(recs[0]) == [], f"in the old primary's record twice: {twice(recs[0])[:10]}"
        assert twice(recs[1]) == [], f"in the new core's record twice: {twice(recs[1])[:10]}"
        sat.wait_for(lambda: sat.ctl_json("get", "c1.commands_seen")["value"] >= 1, 20,
                     "the command on the device")
        assert sat.ctl_json("get", "c1.setpoint")["value"] == 7
        assert sat.ctl_json("get", "c1.commands_seen")["value"] == 1
    finally:
        for rec in recs:
            rec.close()
        to_p.close()
        to_s.close()
