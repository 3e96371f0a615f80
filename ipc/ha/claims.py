"""What one standby holds of each satellite's series: its *claim* (issue 15).

A satellite's datapoints carry a sequence per buffer epoch. The primary sends a
standby a satellite's values only in order and without a gap, from what the standby
holds on; every value batch carries the standby's claim (satellite id -> [epoch, last
sequence]), and the primary acknowledges a satellite only up to what its connected
standby has acknowledged holding. A run that does not follow on (the standby missed
values: it fell behind, re-joined, or the satellite's data came while it could not be
sent) is not sent at all; the satellite is asked to resend from its acknowledged
sequence, which is then at most the claim, and the resent values fill the gap
(:meth:`~edgeos.ipc.ha.source.MirrorSource.sat_replay`). Pure functions: unit-tested
without sockets.
"""

from __future__ import annotations

from typing import Any

Claim = list[Any]  # [buffer epoch, last sequence held]


def follows(claim: Claim | None, epoch: str) -> int:
    """The last sequence held of ``epoch``: a new buffer epoch starts over at 0."""
    return int(claim[1]) if claim is not None and claim[0] == epoch else 0


def take(claim: Claim | None, epoch: str, first: int, items: list[Any]
         ) -> tuple[Claim | None, list[Any], bool]:
    """The part of the run ``first``, ``first + 1``, ... that follows on ``claim``:
    ``(new claim, items to send, gap)``. ``gap``: the run starts after the next
    sequence the standby needs (nothing is taken; the satellite must resend)."""
    held = follows(claim, epoch)
    if first > held + 1:
        return claim, [], True
    new = items[held + 1 - first:]
    if not new:
        return claim, [], False
    return [epoch, first + len(items) - 1], new, False


def base(told: int, reported: Claim | None, epoch: str) -> Claim:
    """A joining standby's claim: what the satellite was told is acknowledged (it
    holds nothing before that any more) or, if more, what the standby says it holds:
    its gateway's high-water mark, what it took itself while it was active or mirrored
    (a core that handed over, or restarted, is sent nothing it published itself)."""
    return [epoch, max(told, follows(reported, epoch))]
