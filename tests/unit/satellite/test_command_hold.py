"""Commands held for a satellite that is not connected (ipc/satellite/command_hold.py),
on a given clock: kept in order, pushed out beyond MAX_HELD, expired after HOLD_S,
taken once; their refusals carry the command id and origin the broker needs."""

from __future__ import annotations

from edgeos.ipc import protocol
from edgeos.ipc.satellite.command_hold import HOLD_S, MAX_HELD, CommandHold, refusals


def cmd(n: int, cmd_id: int | None = None) -> list:
    return ["c1.setpoint", n, 1000 + n, "route:r1", cmd_id]


def test_held_in_order_and_taken_once() -> None:
    hold = CommandHold()
    assert hold.add([cmd(1), cmd(2)], now=10.0) == []
    assert hold.add([cmd(3)], now=11.0) == []
    assert hold.next_expiry() == 10.0 + HOLD_S
    assert [c[1] for c in hold.take()] == [1, 2, 3]
    assert hold.take() == [] and len(hold) == 0 and hold.next_expiry() is None


def test_expired_after_hold_s_only() -> None:
    hold = CommandHold()
    hold.add([cmd(1)], now=0.0)
    hold.add([cmd(2)], now=5.0)
    assert hold.expired(HOLD_S - 0.1) == []
    assert [c[1] for c in hold.expired(HOLD_S)] == [1]
    assert hold.next_expiry() == 5.0 + HOLD_S
    assert [c[1] for c in hold.expired(5.0 + HOLD_S)] == [2]
    assert len(hold) == 0


def test_bounded_oldest_pushed_out() -> None:
    hold = CommandHold()
    assert hold.add([cmd(i) for i in range(MAX_HELD)], now=0.0) == []
    out = hold.add([cmd(MAX_HELD), cmd(MAX_HELD + 1)], now=1.0)
    assert [c[1] for c in out] == [0, 1]
    assert len(hold) == MAX_HELD


def test_refusals_name_id_path_and_origin() -> None:
    got = refusals([cmd(1, cmd_id=7), ["c1.setpoint", 2]], protocol.NOT_DELIVERED, "why")
    assert got == [[7, "c1.setpoint", "not_delivered", "why", "route:r1"],
                   [None, "c1.setpoint", "not_delivered", "why", None]]
