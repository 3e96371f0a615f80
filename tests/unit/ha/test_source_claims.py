"""The primary's end of the mirror link with a fake gateway (no sockets, no
processes): a standby that falls behind or re-joins gets every satellite value in
order from what it holds, the satellite is acknowledged only up to what the standby
acknowledged holding, and a standby silent for HOLD_S is given up (issue 15)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import zmq.asyncio
from edgeos.ipc.ha import source, wire
from edgeos.ipc.ha.source import MirrorSource


class FakeGateway:
    """What MirrorSource uses of the satellite gateway: sends are recorded."""

    def __init__(self, tmp: Path) -> None:
        self.spec = SimpleNamespace(data_dir=tmp, config_dir=tmp, run_dir=tmp)
        self.ctx = zmq.asyncio.Context()
        self.sats: dict[str, Any] = {"s1": SimpleNamespace(
            id="s1", epoch="e", hwm=0, state="connected", told=0)}
        self.sent: list[tuple[bytes, dict[str, Any]]] = []
        self.rewinds = 0

    def _send(self, rid: bytes, kind: bytes, body: Any) -> bool:
        self.sent.append((kind, body))
        return True

    def _spawn(self, coro: Any) -> None:
        coro.close()  # snapshots and supervisor calls are not this test's business

    def ack_satellites(self) -> None:
        pass

    def rewind(self, sat: Any) -> None:
        self.rewinds += 1


def item(seq: int) -> list[Any]:
    return ["c1.seq", seq, seq, "good", False, None]


class Primary:
    """A MirrorSource with one standby, and the satellite s1 streaming seq 1, 2, ..."""

    def __init__(self, tmp: Path) -> None:
        self.gw = FakeGateway(tmp)
        self.src = MirrorSource(self.gw)  # type: ignore[arg-type]
        self.src.sync({"sb": {"key": "K"}})
        self.f = self.src.followers["K"]
        self.f.rid = b"r"

    def join(self, **hello: Any) -> None:
        self.src._hello(self.f, {"role": "standby", "epoch": 0, **hello})

    def take(self, n: int) -> None:
        """The gateway took the next n values of s1 (as in Gateway._data)."""
        sat = self.gw.sats["s1"]
        first = sat.hwm + 1
        sat.hwm += n
        self.src.sat_items("s1", "e", sat.hwm, [item(i) for i in range(first, sat.hwm + 1)])
        self.src._flush()

    def resend(self, first: int) -> None:
        """The satellite resent from ``first`` to what the gateway has: duplicates."""
        sat = self.gw.sats["s1"]
        self.src.sat_replay("s1", "e", first, [item(i) for i in range(first, sat.hwm + 1)])
        self.src._flush()

    def ack_all(self) -> None:
        self.src._ack(self.f, self.f.seq, self.f.dp)

    def mirrored(self) -> list[int]:
        """s1's values in the batches sent to the standby, in order."""
        return [i[1] for kind, body in self.gw.sent if kind == wire.M_VALUES
                for source_id, items in body["batches"] if source_id == "s1" for i in items]

    def ackable(self) -> int:
        return self.src.ackable("s1", "e", self.gw.sats["s1"].hwm)

    def close(self) -> None:
        self.src.broker.close()
        self.gw.ctx.destroy(linger=0)


def run(tmp: Path, steps: Any) -> None:
    """``steps(primary)`` on an event loop (its timers), then the sockets closed."""
    async def main() -> None:
        p = Primary(tmp)
        try:
            await steps(p)
        finally:
            p.close()
    asyncio.run(main())


def test_a_standby_that_fell_behind_gets_the_gap_resent_in_order(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(wire, "WINDOW", 3)

    async def main(p: Primary) -> None:
        p.join()
        for _ in range(3):
            p.take(10)  # 1..30 sent, unacknowledged: the window is full
        p.ack_all()
        assert p.ackable() == 30
        for _ in range(4):
            p.take(10)  # 31..60 sent; 61..70 cannot go out (window): it fell behind
        assert p.f.resync
        p.take(10)  # 71..80 are not sent either
        p.ack_all()  # caught up: the satellite must resend 61..80
        assert p.ackable() == 60, "acknowledged beyond what the standby holds"
        assert p.gw.rewinds == 1
        p.resend(61)
        p.take(5)
        assert p.mirrored() == list(range(1, 86))
        p.ack_all()
        assert p.ackable() == 85
    run(tmp_path, main)


def test_a_rejoin_resends_only_what_the_standby_lacks(tmp_path) -> None:
    async def main(p: Primary) -> None:
        p.join()
        p.take(20)
        p.ack_all()
        p.gw.sats["s1"].told = 10  # the satellite was last told 10
        p.take(20)  # 21..40 sent; then the standby lost a batch and re-joins
        p.join(sat_hwm={"s1": ["e", 20]})
        assert p.ackable() == 20
        p.take(10)  # 41..50 do not follow on 20: left out, the satellite resends
        assert p.gw.rewinds == 1
        p.resend(11)  # from what it was told: 11..20 it holds, 21..50 it gets
        assert p.mirrored()[40:] == list(range(21, 51))
    run(tmp_path, main)


def test_a_standby_silent_for_hold_s_is_given_up(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(source, "HOLD_S", 0.05)

    async def main(p: Primary) -> None:
        p.join()
        p.take(10)
        assert p.ackable() == 0
        await asyncio.sleep(0.2)
        assert p.f.state == "behind"
        assert any(kind == wire.M_REJOIN for kind, _ in p.gw.sent)
        assert p.ackable() == 10  # its acknowledgements no longer wait for it
        p.join()  # it joins again: from what the satellite was told
        assert p.f.state == "connected"
    run(tmp_path, main)


def test_the_hand_over_carries_all_the_primary_took_though_the_standby_lacks_some(
        tmp_path) -> None:
    """``ha promote`` restarts the standby's link: values in flight then are lacking on
    it, and a quiesced primary cannot have the satellite resend them. The hand-over
    says how far the primary took (and published) each satellite, so the new core
    does not take those values again (CI: 386..391 on both cores)."""
    async def main(p: Primary) -> None:
        p.join()
        p.take(20)
        p.ack_all()
        p.gw.sats["s1"].told = 20
        p.take(6)  # 21..26 taken and published here; the link restarts before the ack
        p.join(sat_hwm={"s1": ["e", 20]})
        assert p.src.lacking(p.f) == 6
        p.src.handover("K", "maintenance")
        kind, body = p.gw.sent[-1]
        assert kind == wire.M_TAKEOVER and body["sat_hwm"] == {"s1": ["e", 26]}
    run(tmp_path, main)


def test_a_core_that_starts_active_with_a_standby_takes_no_satellite_until_it_joins(
        tmp_path) -> None:
    """Killed and restarted, an active core may have been taken over meanwhile: it holds
    its satellites off until a standby's HELLO says it is the active one (bench b2 of
    session 9: the restarted stale core took 8,000 buffered values before it was fenced,
    and skipped 3 its broker never published)."""
    async def main(p: Primary) -> None:
        assert p.src.state.active
        p.src.hold_at_start()
        assert p.src.quiesced and p.src.start_hold is not None
        p.join()  # the standby joins: we are the active core
        assert not p.src.quiesced and p.src.start_hold is None
    run(tmp_path, main)


def test_the_start_hold_ends_alone_after_start_hold_s_and_not_without_a_standby(
        tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(source, "START_HOLD_S", 0.05)

    async def main(p: Primary) -> None:
        p.src.hold_at_start()
        assert p.src.quiesced
        await asyncio.sleep(0.2)  # nobody answered: this core is alone, it takes them
        assert not p.src.quiesced and p.src.start_hold is None
        p.src.sync({})  # no standby trusted and no peer known: nothing to wait for
        p.src.hold_at_start()
        assert not p.src.quiesced
    run(tmp_path, main)


def test_a_hand_over_during_the_start_hold_stays_quiesced(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(source, "START_HOLD_S", 0.05)

    async def main(p: Primary) -> None:
        p.src.hold_at_start()
        p.src.end_start_hold()  # what ha_quiesce does before it quiesces (gateway_commands)
        p.src.quiesced = True
        await asyncio.sleep(0.2)
        assert p.src.quiesced  # the ended hold's timer does not take satellites again
    run(tmp_path, main)
