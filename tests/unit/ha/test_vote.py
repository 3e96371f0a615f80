"""The failover vote (ipc/ha/vote.py) on a fake clock: which satellite visits to a
standby count. The scenarios are the ones seen in the integration tests: a real loss
of the primary, a satellite's early visit (not yet trusted on the primary) before the
cores' link was cut, and a short hiccup during such a cut."""

from __future__ import annotations

from edgeos.ipc.ha.vote import FRESH_S, Visit, alone, counts, voters
from edgeos.ipc.satellite.uplink import SWITCH_S

FAILOVER_S = 5.0


def test_a_satellite_that_lost_the_primary_long_enough_during_the_silence_votes() -> None:
    # the primary died at t=100; the standby last heard it then; the satellite, back
    # at the standby after trying the primary, says it heard nothing for 5.1 s
    visit = Visit(at=105.1, lost_s=5.1, failed_tries=1)
    assert counts(visit, now=105.5, silent_since=100.0, failover_s=FAILOVER_S)


def test_a_visit_too_soon_after_the_loss_does_not_vote_yet() -> None:
    visit = Visit(at=101.0, lost_s=1.0, failed_tries=1)  # its first visit, 1 s after the kill
    assert not counts(visit, now=105.0, silent_since=100.0, failover_s=FAILOVER_S)


def test_a_reconnect_that_did_not_find_the_primary_silent_does_not_vote() -> None:
    # a hiccup: the satellite's link dropped, it went round its list to the standby
    # (refused) without trying the primary again; it may have been away for a while
    visit = Visit(at=106.0, lost_s=6.0, failed_tries=0)
    assert not counts(visit, now=106.5, silent_since=100.0, failover_s=FAILOVER_S)


def test_a_visit_from_before_the_silence_does_not_vote() -> None:
    # the satellite came while not yet trusted on the primary (it tried the standby
    # too), long before the cores' link was cut at t=100
    visit = Visit(at=96.0, lost_s=FAILOVER_S + 1, failed_tries=1)
    assert not counts(visit, now=102.0, silent_since=100.0, failover_s=FAILOVER_S)


def test_a_hiccup_shorter_than_failover_s_does_not_vote() -> None:
    # the cores' link is cut at t=100; at t=103 the satellite's own link hiccups and it
    # visits the standby for a moment, 2.6 s after it last heard the primary
    visit = Visit(at=103.0, lost_s=2.6, failed_tries=1)  # (even had it tried once)
    for now in (103.0, 104.0, 106.0, 107.9):
        assert not counts(visit, now=now, silent_since=100.0, failover_s=FAILOVER_S)


def test_a_vote_goes_stale_when_the_satellite_stops_coming() -> None:
    visit = Visit(at=106.0, lost_s=6.0, failed_tries=1)
    assert counts(visit, now=106.0 + FRESH_S, silent_since=100.0, failover_s=FAILOVER_S)
    assert not counts(visit, now=106.1 + FRESH_S, silent_since=100.0, failover_s=FAILOVER_S)


def test_a_satellite_still_without_the_primary_comes_back_before_its_vote_is_stale() -> None:
    # it alternates between the cores, SWITCH_S on each, and says HELLO on arrival
    assert FRESH_S >= 2 * SWITCH_S


def test_voters_lists_only_those_that_count_with_what_they_reported() -> None:
    visits = {"garage": Visit(at=106.0, lost_s=6.0, failed_tries=1),
              "attic": Visit(at=103.0, lost_s=2.5, failed_tries=1),
              "early": Visit(at=90.0, lost_s=9.0, failed_tries=1),
              "hiccup": Visit(at=106.0, lost_s=6.0, failed_tries=0)}
    assert voters(visits, now=107.0, silent_since=100.0, failover_s=FAILOVER_S) == \
        {"garage": 6.0}
    assert voters({}, now=107.0, silent_since=100.0, failover_s=FAILOVER_S) == {}


def test_a_primary_is_alone_only_when_it_lost_its_standby_and_every_satellite() -> None:
    assert alone([False], [False, False])
    assert not alone([True], [False])  # the standby is there: it will not promote
    assert not alone([False], [False, True])  # one satellite still here: no vote
    assert not alone([], [False])  # no standby trusted: nobody to take over


def test_a_primary_without_satellites_never_fences_itself() -> None:
    """Nobody can vote for its standby, so a standby away (an update, a reboot) must
    not stop the PLCs this core runs."""
    assert not alone([False], [])
