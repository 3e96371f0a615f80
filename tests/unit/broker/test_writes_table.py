"""The broker's table of writes in flight: outcomes, relays, and its bound."""

from __future__ import annotations

import asyncio

from edgeos.ipc.broker import writes
from edgeos.ipc.broker.writes import Relay, Writes


def test_a_waiting_set_hears_accepted_then_confirmed() -> None:
    async def go() -> None:
        table = Writes()
        cmd_id, waiter = table.wait("plc.sp")
        assert table.answer(cmd_id, None, "accepted") is None
        assert waiter.accepted and not waiter.future.done()
        table.answer(cmd_id, None, "confirmed")
        assert waiter.future.result() == ("confirmed", None, None)
        table.answer(cmd_id, "bad_value", "late")  # a second answer changes nothing
        assert waiter.future.result()[0] == "confirmed"

    asyncio.run(go())


def test_a_refusal_reaches_the_waiter_or_the_relay() -> None:
    async def go() -> None:
        table = Writes()
        cmd_id, waiter = table.wait("plc.t")
        table.answer(cmd_id, "read_only", "plc.t is read-only")
        assert waiter.future.result() == ("refused", "read_only", "plc.t is read-only")
        table.drop(cmd_id)  # the set that waited is done with it
        relayed = table.relay("bridge", 7, "plc.t")
        assert table.answer(relayed, "read_only", "x") == Relay("bridge", 7, "plc.t")
        assert relayed not in table.pending
        accepted = table.relay("bridge", 8, "plc.sp")
        assert table.answer(accepted, None, "accepted") is None and not table.pending
        assert table.answer(12345, "bad_value", "unknown id") is None

    asyncio.run(go())


def test_the_table_is_bounded_and_an_evicted_waiter_is_told(monkeypatch) -> None:
    monkeypatch.setattr(writes, "PENDING_MAX", 3)

    async def go() -> None:
        table = Writes()
        first, waiter = table.wait("a.x")
        for n in range(3):
            table.relay("bridge", n, "a.y")
        assert len(table.pending) == 3 and first not in table.pending
        assert waiter.future.result() == ("timeout", None, "too many writes in flight")

    asyncio.run(go())
