"""The failover vote: which satellites' visits to a standby say the primary is gone.

A satellite sends to the active core while it can; when it loses it, it tries the next
core in its list, and a standby refuses it. That visit is a vote only if it shows the
satellite lost the primary for real and during this standby's own silence, so neither
a satellite's hiccup (a reconnect sends it round its core list once) nor a visit from
before the cut (a satellite not yet trusted on the primary tries the standby too) can
promote the standby while the primary runs. The rule (docs/high-availability.md,
"Switch-over and failover"): a visit counts when

1. the satellite reported, in that HELLO, that it had heard nothing from an active
   core for at least ``failover_s`` (``lost_s``: its own clock, from the last message
   of a core that did not call itself a standby);
2. it tried a core again since and that one said nothing at all (``failed_tries`` >=
   1): a satellite that merely reconnected comes here once and finds the primary on
   its way back, so it never reports a failed try;
3. it came after the standby last heard from the primary (the same outage, not an
   earlier one); and
4. it is recent, at most :data:`FRESH_S` old: a satellite that still lost the primary
   comes back to the standby about every ``2 * SWITCH_S`` (it alternates), one that
   found the primary again does not.

All times are ``time.monotonic()`` seconds of this host (the gateway records the
visits, the mirror measures the silence; both use the same clock).
"""

from __future__ import annotations

from dataclasses import dataclass

#: a vote older than this is stale: two of the satellite's core switches (``SWITCH_S``
#: in ipc/satellite/uplink.py, 2 s) and a second for its connect and handshake
FRESH_S = 5.0
MAX_VOTERS = 10_000  # visits kept (one per trusted satellite; bounded all the same)


@dataclass(frozen=True)
class Visit:
    """A satellite's HELLO to this standby: when it came and what it said."""

    at: float  # monotonic time of arrival here
    lost_s: float  # the satellite's own seconds without an active core
    failed_tries: int  # cores it tried since then that said nothing


def counts(visit: Visit, *, now: float, silent_since: float, failover_s: float) -> bool:
    """Whether this visit is a vote for promoting (the four conditions above)."""
    return (visit.lost_s >= failover_s
            and visit.failed_tries >= 1
            and visit.at >= silent_since
            and now - visit.at <= FRESH_S)


def voters(visits: dict[str, Visit], *, now: float, silent_since: float,
           failover_s: float) -> dict[str, float]:
    """Satellite id -> the ``lost_s`` it reported, for every visit that counts."""
    return {sat_id: v.lost_s for sat_id, v in visits.items()
            if counts(v, now=now, silent_since=silent_since, failover_s=failover_s)}


def alone(standbys: list[bool], satellites: list[bool]) -> bool:
    """The primary's side of the vote: may the standby be promoting right now?

    ``standbys`` and ``satellites`` say, for each trusted one, whether it is connected.
    Only a satellite that lost this core can vote for the standby, so a core alone is
    one with a standby that it has lost and satellites of which it has lost every one.
    A core without satellites is never alone: nobody can vote for its standby (unless a
    witness is configured: see docs/high-availability.md), and a standby away for an
    update must not stop the PLCs of the core that runs them.
    """
    return (bool(standbys) and not any(standbys)
            and bool(satellites) and not any(satellites))
