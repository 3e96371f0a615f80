"""The primary's end of the mirror link, inside ``edgeos: satellite-gateway``.

A standby core's key is trusted as kind ``standby``; the gateway hands its messages
here. On each HELLO the standby gets the mirrored files and a snapshot of every last
value, then every change the broker publishes (its change feed), in numbered batches
it acknowledges. Files are re-sent when they change (inotify, no polling). The lag the
primary measures (datapoints sent and not acknowledged, age of the oldest of them) is
echoed in every PONG, so both ends show the same figures.

Satellites' data goes to a standby by its *claim* (:mod:`edgeos.ipc.ha.claims`): in
order and without a gap from what it holds on, and a satellite is acknowledged only up
to what the standby has acknowledged holding. Values it misses (it fell behind, its
batch went missing) are resent by the satellite from its disk buffer
(:meth:`MirrorSource.sat_replay`), not skipped by a snapshot.

Fencing: a HELLO from a peer that is ``active`` with a higher epoch than ours means
it took over; we tell the supervisor, which demotes this core to its standby.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zmq
import zmq.asyncio
from edgeos.ipc import addresses, protocol
from edgeos.ipc.ha import claims, vote, wire
from edgeos.ipc.ha.state import HaState, HaStateError
from edgeos.ipc.ha.watch import FileWatch
from edgeos.ipc.rpc import AsyncRpcClient, RpcError
from edgeos.ipc.satellite.peer import LinkPeer
from edgeos.ipc.satellite.wire import parse_hostport

if TYPE_CHECKING:
    from edgeos.ipc.satellite.gateway import Gateway

log = logging.getLogger("ha-source")

#: a satellite is asked again to resend what a standby lacks after this long without
#: progress
REWIND_S = 3.0
#: a standby that has not acknowledged a batch for this long is given up: told to
#: re-join (its record then starts over); meanwhile the satellites' acknowledgements
#: wait for it (a satellite stops sending at its window, 20,000 datapoints unacknowledged)
HOLD_S = 30.0
#: resent satellite values queued for one standby until the next flush
REPLAY_MAX = 20_000
#: a core that starts as the active one with a standby takes no satellite until a
#: standby's HELLO says it is the active one, a newer active core fences it, or this
#: long passed without either (it is alone): see MirrorSource.hold_at_start
START_HOLD_S = 3.0  # below failover_s (5): a core alone that long fences its devices


@dataclass
class Follower(LinkPeer):
    """One standby core mirroring from us."""

    name: str
    key: str
    fd: int | None = None  # its connection's fd: the ROUTER monitor reports it closed
    listen: str | None = None
    role: str = "standby"
    epoch: int = 0
    seq: int = 0  # last M_VALUES sent
    dp: int = 0  # datapoints sent
    acked_seq: int = 0
    acked_dp: int = 0
    resync: bool = False
    #: seq, dp, t, and the satellites' sequences the batch covers
    inflight: deque[tuple[int, int, float, dict[str, list[Any]]]] = field(
        default_factory=deque)
    sat_acked: dict[str, list[Any]] = field(default_factory=dict)  # on the standby
    #: per satellite, [epoch, last sequence] sent to it in order since it joined
    claim: dict[str, list[Any]] = field(default_factory=dict)
    #: per satellite, [epoch, first, items]: resent values it lacks, for the next batch
    replay: dict[str, list[Any]] = field(default_factory=dict)
    #: per satellite, (the claim at, monotonic time of) the last resend asked for it
    rewound: dict[str, tuple[int, float]] = field(default_factory=dict)
    hold: asyncio.TimerHandle | None = None  # checks it acknowledges within HOLD_S

    def lag(self, lacking: int = 0) -> tuple[int, float]:
        """(datapoints sent, not acknowledged, plus ``lacking``: satellites' values
        taken and not sent to it; seconds the oldest batch sent waits)."""
        oldest = self.inflight[0][2] if self.inflight else None
        return self.dp - self.acked_dp + lacking, \
            round(time.time() - oldest, 3) if oldest else 0.0

    def row(self, lacking: int = 0) -> dict[str, Any]:
        lag_dp, lag_s = self.lag(lacking)
        return {"name": self.name, "key": self.key, "state": self.state,
                "address": self.address, "listen": self.listen, "role": self.role,
                "epoch": self.epoch, "last_seen": self.last_seen, "lag_dp": lag_dp,
                "lag_s": lag_s, "mirrored_dp": self.acked_dp}


class MirrorSource:
    """Serves the standby cores trusted on this core."""

    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        spec = gateway.spec
        self.data = Path(spec.data_dir)
        self.config = Path(spec.config_dir)
        self.files = [self.config / n for n in wire.CONFIG_FILES] + \
                     [self.data / n for n in wire.DATA_FILES]
        self.followers: dict[str, Follower] = {}
        self.digests: dict[str, str | None] = {}
        self.pending: dict[str, list[Any]] = {}
        self.pending_n = 0
        self._flush_handle: asyncio.TimerHandle | None = None
        self.broker = AsyncRpcClient(gateway.ctx, addresses.endpoint(spec.run_dir,
                                                                     addresses.BROKER_CTL), 30)
        self.watch: FileWatch | None = None
        self.feed: zmq.asyncio.Socket | None = None
        self.state = self.load_state()
        self.held = 0  # commands not sent to satellites while this core is a standby
        self.quiesced = False  # handing over: satellites are refused until then
        self.start_hold: asyncio.TimerHandle | None = None  # see hold_at_start
        #: satellites that came to us while we are a standby, the last visit of each:
        #: a vote if they lost the active core for long enough (ipc/ha/vote.py)
        self.votes: dict[str, vote.Visit] = {}
        self.alone: bool | None = None  # no standby, no satellite connected (told)
        #: per satellite, [buffer epoch, first sequence, items] taken since the last flush
        self.sat_pending: dict[str, list[Any]] = {}

    # -- trust -----------------------------------------------------------------------
    def sync(self, standby: dict[str, dict[str, Any]]) -> None:
        """Followers as trusted now (``satellites.json`` ``standby``); a revoked one's
        messages are dropped from then on."""
        keys = {e["key"]: name for name, e in standby.items()}
        for key in [k for k in self.followers if k not in keys]:
            del self.followers[key]
        for key, name in keys.items():
            self.followers.setdefault(key, Follower(name, key))
        self.check_alone("trust store read")

    def hold_at_start(self) -> None:
        """A core that starts as the active one and has a standby may have been taken
        over while it was down (killed, powered off): until it knows, it takes no
        satellite. Else, for the moment before the newer active core's HELLO fences it,
        it would take what a satellite buffered meanwhile, publish it and acknowledge it
        (a satellite's pending connect completes to it as it comes up), and its
        high-water mark, persisted before its broker published, could skip a resend
        (issue 15). A standby's HELLO ends the hold (we are the active core), as does a
        role the supervisor sets, or START_HOLD_S without either (we are alone)."""
        if not self.state.active or not (self.followers or self.state.peer):
            return
        self.quiesced = True
        self.start_hold = asyncio.get_running_loop().call_later(
            START_HOLD_S, self.end_start_hold, f"no newer active core within {START_HOLD_S:g} s")
        log.warning("started as the active core (epoch %d): no satellite is taken until a "
                    "standby joins or %g s pass without a newer active core",
                    self.state.epoch, START_HOLD_S)

    def end_start_hold(self, why: str | None = None) -> None:
        """End :meth:`hold_at_start`; with ``why``, take satellites again (else the
        caller sets ``quiesced`` itself)."""
        if self.start_hold is None:
            return
        self.start_hold.cancel()
        self.start_hold = None
        if why is not None:
            self.quiesced = False
            log.info("taking satellites: %s", why)

    def check_alone(self, why: str) -> None:
        """Tell the supervisor when this core is alone (:func:`vote.alone`: its standby
        and every satellite lost) and when it is not any more: alone for ``failover_s``
        it fences its own devices (supervisor/ha_selffence.py)."""
        alone = vote.alone([f.state == "connected" for f in self.followers.values()],
                           [s.state == "connected" for s in self.gw.sats.values()])
        if alone != self.alone and (alone or self.alone is not None):
            self.alone = alone
            self.gw._spawn(self._tell_alone(alone, why))

    async def _tell_alone(self, alone: bool, why: str) -> None:
        try:
            await self.gw.control.call("ha_alone", alone=alone, why=why)
        except RpcError as exc:
            log.warning("could not tell the supervisor this core is %s: %s",
                        "alone" if alone else "not alone", exc)

    def handles(self, key: str) -> bool:
        return key in self.followers

    def load_state(self) -> HaState:
        """Re-read ``ha.json`` (the supervisor says when: gateway command ``ha_role``)."""
        try:
            self.state = HaState.load(self.data) or HaState()
        except HaStateError as exc:
            log.error("%s: acting as a standby (actuating nothing)", exc)
            self.state = HaState(role="standby")
        return self.state

    def ha(self) -> HaState:
        return self.state

    def handover(self, key: str, reason: str) -> None:
        """Planned switch-over: ask the connected standby to take over."""
        f = self.followers.get(key)
        if f is None or f.state != "connected" or f.rid is None:
            raise ValueError("that standby is not connected")
        took = {sid: [sat.epoch, sat.hwm] for sid, sat in self.gw.sats.items() if sat.epoch}
        lacking = self.lacking(f)
        if lacking:
            log.warning("standby %s lacks %d satellite values this core took and published "
                        "(in flight when its link restarted): they stay in this core's "
                        "record only, and are not taken again", f.name, lacking)
        self.gw._send(f.rid, wire.M_TAKEOVER, {"reason": reason, "epoch": self.state.epoch,
                                               "sat_hwm": took})

    # -- link ------------------------------------------------------------------------
    def on_message(self, rid: bytes, key: str, kind: bytes, frames: list[zmq.Frame]) -> None:
        f = self.followers[key]
        if kind not in wire.KINDS:
            return
        try:
            body = protocol.unpack(frames[2].buffer)
            if f.heard(rid, frames[1]):
                f.fd = frames[1].get(zmq.SRCFD)
            if kind == wire.M_HELLO:
                self._hello(f, body)
            elif kind == wire.M_ACK and f.state == "connected":
                self._ack(f, int(body["seq"]), int(body["dp"]))
            elif kind == wire.M_ACK and f.state == "behind":  # it missed our M_REJOIN
                self.gw._send(rid, wire.M_REJOIN, {"reason": "given up: join again"})
            elif kind == wire.M_HANDOVER and f.state == "connected":
                self.gw._spawn(self._hand_over(str(body.get("reason"))))
            elif kind == wire.M_PING:
                lag_dp, lag_s = f.lag(self.lacking(f))
                self._catch_up(f)  # once a second: a lost resend request is asked again
                ha = self.ha()
                self.gw._send(rid, wire.M_PONG, {"t": body.get("t"), "epoch": ha.epoch,
                                                 "role": ha.role, "lag_dp": lag_dp,
                                                 "lag_s": lag_s})
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("standby %s: malformed %s message: %s", f.name, kind, exc)

    def _hello(self, f: Follower, body: dict[str, Any]) -> None:
        f.role, f.epoch = str(body.get("role")), int(body.get("epoch") or 0)
        f.listen = self._listen(body.get("listen"), f.address)
        ha = self.ha()
        if f.role == "active" and f.epoch > ha.epoch and ha.active:
            log.warning("core %s is active with epoch %d > ours %d: we are fenced",
                        f.name, f.epoch, ha.epoch)
            self.gw._spawn(self._fenced(f))
            return
        if not ha.active or f.role != "standby":
            self.gw._send(f.rid or b"", wire.M_FENCED, {
                "epoch": ha.epoch, "role": ha.role,
                "reason": wire.STALE_EPOCH if f.epoch > ha.epoch else f"this core is {ha.role}"})
            f.state = "refused"
            return
        f.state, f.resync = "connected", False
        self.end_start_hold(f"standby {f.name} joined at epoch {f.epoch}: this core is the "
                            "active one")
        f.seq = f.acked_seq = 0
        f.dp = f.acked_dp = 0
        f.inflight.clear()
        f.replay.clear()
        f.rewound.clear()
        held = body.get("sat_hwm")
        held = held if isinstance(held, dict) else {}
        f.claim = {sid: claims.base(sat.told, held.get(sid) if isinstance(
            held.get(sid), list) and len(held[sid]) == 2 else None, sat.epoch)
            for sid, sat in self.gw.sats.items()}
        f.sat_acked = {sid: list(c) for sid, c in f.claim.items()}
        log.info("standby %s mirroring from %s (epoch %d), holding %s", f.name, f.address,
                 f.epoch, {sid: c[1] for sid, c in f.claim.items()})
        self.check_alone(f"standby {f.name} connected")
        self.gw._send(f.rid or b"", wire.M_WELCOME, {"epoch": ha.epoch, "role": ha.role})
        self.gw._send(f.rid or b"", wire.M_FILES, {"files": self._read_files(self.files)})
        self.gw._spawn(self._snapshot(f))

    @staticmethod
    def _listen(listen: Any, address: str | None) -> str | None:
        """Where the peer takes links; a wildcard host is replaced by the address it
        came from."""
        if not listen:
            return None
        host, port = parse_hostport(str(listen))
        if host in ("0.0.0.0", "::") and address:
            host = address
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    async def _hand_over(self, reason: str) -> None:
        try:
            await self.gw.control.call("ha_demote", reason=f"standby asked: {reason}")
        except RpcError as exc:
            log.error("hand-over asked by the standby failed: %s", exc)

    async def _fenced(self, f: Follower) -> None:
        try:
            await self.gw.control.call("ha_fenced", epoch=f.epoch, peer=f.listen, key=f.key,
                                       reason=f"core {f.name} ({f.address}) is active with "
                                              f"epoch {f.epoch}")
        except RpcError as exc:
            log.error("could not demote on a higher epoch: %s", exc)

    async def fenced_by(self, sat_id: str, body: dict[str, Any]) -> None:
        """A satellite refused our commands: it has seen a higher epoch than ours."""
        epoch = int(body.get("epoch") or 0)
        log.warning("satellite %s refused commands: %s (epoch %d, ours %d)", sat_id,
                    body.get("reason"), epoch, self.state.epoch)
        if epoch > self.state.epoch and self.state.active:
            try:
                await self.gw.control.call("ha_fenced", epoch=epoch, reason=(
                    f"satellite {sat_id} has seen epoch {epoch}: another core took over"))
            except RpcError as exc:
                log.error("could not demote on a higher epoch: %s", exc)

    def disconnected(self, fd: int) -> None:
        """A link closed (heartbeats timed out, a cut): a standby on it holds nothing
        more, so the satellites' data no longer waits for it to be acknowledged."""
        for f in self.followers.values():
            if f.fd == fd and f.state == "connected":
                log.warning("standby %s: link lost; satellites' data no longer waits "
                            "for it", f.name)
                f.state, f.rid, f.fd = "offline", None, None
                f.inflight.clear()
                self._unhold(f)
                self.gw.ack_satellites()
                self.check_alone(f"standby {f.name} lost")

    def _ack(self, f: Follower, seq: int, dp: int) -> None:
        f.acked_seq, f.acked_dp = max(f.acked_seq, seq), max(f.acked_dp, dp)
        while f.inflight and f.inflight[0][0] <= f.acked_seq:
            f.sat_acked = f.inflight.popleft()[3]
        self.gw.ack_satellites()  # what the standby holds now may be acknowledged
        if f.resync and f.acked_seq == f.seq:  # it fell behind: a fresh snapshot
            f.resync = False
            self.gw._spawn(self._snapshot(f))
        self._catch_up(f)

    async def _snapshot(self, f: Follower) -> None:
        """Every last value the broker holds, in batches, before the live changes."""
        try:
            snap = await self.broker.call("mirror_snapshot")
        except RpcError as exc:
            log.warning("standby %s: no snapshot of the last values: %s", f.name, exc)
            return
        for source, items in snap.items():
            for start in range(0, len(items), wire.VALUES_MAX):
                self._send_values(f, [[source, items[start:start + wire.VALUES_MAX]]],
                                  f.claim, snapshot=True)

    def _send_values(self, f: Follower, batches: list[list[Any]], claim: dict[str, Any],
                     snapshot: bool = False) -> bool:
        """One batch; ``claim`` (what the standby holds of each satellite with it) takes
        effect only if it went out."""
        if f.state != "connected" or f.rid is None or f.resync:
            return False
        if f.seq - f.acked_seq >= wire.WINDOW:
            log.warning("standby %s: %d batches unacknowledged: once it caught up it gets "
                        "a snapshot of the last values, and the satellites resend what it "
                        "lacks (their acknowledgements wait)", f.name, wire.WINDOW)
            f.resync = True  # it cannot keep up: resend everything once it caught up
            return False
        n = sum(len(items) for _, items in batches)
        body = {"seq": f.seq + 1, "dp": f.dp + n, "batches": batches, "sat_hwm": claim,
                "snapshot": snapshot}
        if not self.gw._send(f.rid, wire.M_VALUES, body):
            log.warning("standby %s: its queue is full: handled as fallen behind", f.name)
            f.resync = True
            return False
        f.seq, f.dp, f.claim = f.seq + 1, f.dp + n, claim
        f.inflight.append((f.seq, f.dp, time.time(), claim))
        if f.hold is None:
            f.hold = asyncio.get_running_loop().call_later(HOLD_S, self._check_hold, f)
        return True

    def _check_hold(self, f: Follower) -> None:
        """A standby that acknowledged nothing for HOLD_S cannot keep up: it is told to
        re-join, and until it does the satellites' data no longer waits for it."""
        f.hold = None
        if f.state != "connected" or not f.inflight:
            return
        age = time.time() - f.inflight[0][2]
        if age < HOLD_S:
            f.hold = asyncio.get_running_loop().call_later(HOLD_S - age, self._check_hold, f)
            return
        log.warning("standby %s: no batch acknowledged for %.0f s: told to re-join; "
                    "satellites' data no longer waits for it", f.name, age)
        if f.rid is not None:
            self.gw._send(f.rid, wire.M_REJOIN, {"reason": f"no acknowledgement for "
                                                           f"{age:.0f} s"})
        f.state = "behind"
        f.inflight.clear()
        self.gw.ack_satellites()

    @staticmethod
    def _unhold(f: Follower) -> None:
        if f.hold is not None:
            f.hold.cancel()
            f.hold = None

    def _send_to(self, f: Follower, batches: list[list[Any]],
                 runs: dict[str, list[Any]]) -> None:
        """The flushed values to one standby: every local one; of each satellite's,
        the resent values it lacks, then the new ones, as far as they follow on what
        it holds (its claim). A run that does not follow on is left out: the satellite
        is asked to resend (:meth:`_catch_up`)."""
        if f.state != "connected" or f.rid is None:
            return
        claim = dict(f.claim)
        out = list(batches)
        for sid in [*f.replay, *(s for s in runs if s not in f.replay)]:
            for run in (f.replay.pop(sid, None), runs.get(sid)):
                if run is not None:
                    c, new, _ = claims.take(claim.get(sid), *run)
                    if new:
                        claim[sid] = c
                        out.append([sid, new])
        if out:
            self._send_values(f, out, claim)
        self._catch_up(f)

    def _catch_up(self, f: Follower) -> None:
        """Ask each satellite whose values this standby lacks (and that no queued run
        brings) to resend from what it was acknowledged: at most what the standby holds,
        so the resend fills the gap (:meth:`sat_replay`). Asked again only when the
        standby's claim moved on nothing for REWIND_S (a lost request or resend)."""
        if f.state != "connected" or f.resync or f.seq - f.acked_seq >= wire.WINDOW:
            return
        now = time.monotonic()
        for sid, sat in self.gw.sats.items():
            held = claims.follows(f.claim.get(sid), sat.epoch)
            if held >= sat.hwm:
                f.rewound.pop(sid, None)  # caught up: a later gap is asked for at once
            if sat.state != "connected" or held >= sat.hwm:
                continue
            queued = f.replay.get(sid) or self.sat_pending.get(sid)
            if queued and queued[0] == sat.epoch and queued[1] <= held + 1:
                continue  # the next flush brings it
            last = f.rewound.get(sid)
            if last and last[0] != held:  # a resend is coming in: wait for it
                f.rewound[sid] = (held, now)
                continue
            if last and now - last[1] < REWIND_S:
                continue
            f.rewound[sid] = (held, now)
            log.info("standby %s lacks satellite %s's %d..%d: asking the satellite to "
                     "resend", f.name, sid, held + 1, sat.hwm)
            self.gw.rewind(sat)

    # -- changes -----------------------------------------------------------------------
    def _read_files(self, paths: list[Path]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for path in paths:
            rel = f"{'config' if path.parent == self.config else 'data'}/{path.name}"
            try:
                if path.stat().st_size > wire.MAX_FILE_BYTES:
                    log.warning("%s is larger than %d bytes: not mirrored", path,
                                wire.MAX_FILE_BYTES)
                    continue
                text: str | None = path.read_text("utf-8")
            except FileNotFoundError:
                text = None
            except (OSError, UnicodeDecodeError) as exc:
                log.warning("%s: not mirrored: %s", path, exc)
                continue
            out[rel] = text
            self.digests[rel] = None if text is None else hashlib.sha256(
                text.encode()).hexdigest()
        return out

    def _file_changed(self, path: Path) -> None:
        before = dict(self.digests)
        files = self._read_files([path])
        files = {k: v for k, v in files.items() if before.get(k, "?") != self.digests[k]}
        if not files:
            return
        log.info("mirrored file changed: %s", ", ".join(files))
        for f in self.followers.values():
            if f.state == "connected" and f.rid is not None:
                self.gw._send(f.rid, wire.M_FILES, {"files": files})

    def _on_feed(self) -> None:
        assert self.feed is not None
        while True:
            try:
                frames = self.feed.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            source = frames[0].decode(errors="replace").rstrip(".")
            if source in self.gw.sats:
                continue  # satellites' data comes with its sequence: sat_items
            try:
                items = protocol.unpack(frames[1])
            except ValueError:
                continue
            self.pending.setdefault(source, []).extend(items)
            self.pending_n += len(items)
            self._flush_soon()

    def sat_items(self, sat_id: str, epoch: str, last_seq: int, items: list[Any]) -> None:
        """A satellite's datapoints as the gateway took them, with their sequence: the
        standby learns exactly what it holds, so after a takeover nothing is lost or
        taken twice."""
        first = last_seq - len(items) + 1
        run = self.sat_pending.get(sat_id)
        if run is not None and (run[0] != epoch or run[1] + len(run[2]) != first):
            self._flush()  # a new buffer epoch: the run so far goes out first
            run = None
        if run is None:
            self.sat_pending[sat_id] = [epoch, first, list(items)]
        else:
            run[2].extend(items)
        self.pending_n += len(items)
        self._flush_soon()

    def sat_replay(self, sat_id: str, epoch: str, first: int, items: list[Any]) -> None:
        """Values a satellite resent that this core had taken (it dropped them as
        duplicates): queued for each standby that lacks them. The satellite resends from
        what it was acknowledged, at most what each standby holds: a resend that starts
        later means the satellite no longer holds the values between (its buffer
        overflowed), and the standby's claim moves past them."""
        queued = 0
        for f in self.followers.values():
            if f.state != "connected":
                continue
            run = f.replay.get(sat_id)
            if run is not None and run[0] != epoch:
                del f.replay[sat_id]
                run = None
            held = run[1] + len(run[2]) - 1 if run else claims.follows(
                f.claim.get(sat_id), epoch)
            if first > held + 1:
                log.warning("standby %s: satellite %s no longer holds %d..%d: they are "
                            "not in the standby's record", f.name, sat_id, held + 1,
                            first - 1)
                if run is None:
                    f.claim[sat_id] = [epoch, first - 1]
                    held = first - 1
                else:
                    continue
            new = items[held + 1 - first:]
            if not new or (run is not None and len(run[2]) + len(new) > REPLAY_MAX):
                continue
            if run is None:
                f.replay[sat_id] = [epoch, held + 1, list(new)]
            else:
                run[2].extend(new)
            queued += len(new)
        if queued:
            self.pending_n += queued
            self._flush_soon()

    def _flush_soon(self) -> None:
        if self.pending_n >= wire.VALUES_MAX:
            self._flush()
        elif self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(wire.VALUES_FLUSH_S,
                                                                       self._flush)

    def ackable(self, sat_id: str, epoch: str, hwm: int) -> int:
        """What a satellite may be told is acknowledged: with a standby mirroring, only
        what the standby holds too (the satellite keeps the rest for a takeover)."""
        for f in self.followers.values():
            if f.state == "connected":
                got = f.sat_acked.get(sat_id)
                hwm = min(hwm, int(got[1]) if got and got[0] == epoch else 0)
        return hwm

    def _flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        batches = [[s, items] for s, items in self.pending.items()]
        runs = self.sat_pending
        self.pending, self.pending_n, self.sat_pending = {}, 0, {}
        for f in self.followers.values():
            self._send_to(f, batches, runs)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.watch = FileWatch(self.files, self._file_changed)
        self.watch.start(loop)
        self._read_files(self.files)
        feed = zmq.Socket(self.gw.ctx, zmq.SUB)  # plain socket, read on its fd
        feed.setsockopt(zmq.LINGER, 0)
        feed.setsockopt(zmq.RCVHWM, 200_000)
        feed.setsockopt(zmq.SUBSCRIBE, b"")
        feed.connect(addresses.endpoint(self.gw.spec.run_dir, addresses.CHANGES))
        self.feed = feed  # type: ignore[assignment]
        loop.add_reader(feed.getsockopt(zmq.FD), self._on_feed)
        loop.call_soon(self._on_feed)

    def close(self) -> None:
        self.end_start_hold()
        loop = asyncio.get_running_loop()
        if self.watch is not None:
            self.watch.close(loop)
        if self.feed is not None:
            loop.remove_reader(self.feed.getsockopt(zmq.FD))
            self.feed.close(0)
        self.broker.close()

    def visited(self, sat_id: str, hello: dict[str, Any]) -> None:
        """A trusted satellite came to this standby; its HELLO says how long it has been
        without an active core and how many cores it tried since that said nothing
        (absent: an older satellite, no vote)."""
        try:
            lost = max(0.0, float(hello.get("lost_s") or 0))
            tries = max(0, int(hello.get("failed_tries") or 0))
        except (TypeError, ValueError):
            lost, tries = 0.0, 0
        if sat_id in self.votes or len(self.votes) < vote.MAX_VOTERS:
            self.votes[sat_id] = vote.Visit(time.monotonic(), lost, tries)

    def recent_votes(self, silent_s: float, failover_s: float) -> dict[str, float]:
        """Satellite id -> seconds it had lost the active core, for each visit that is a
        vote now (the standby has heard nothing from the primary for ``silent_s``)."""
        now = time.monotonic()
        return vote.voters(self.votes, now=now, silent_since=now - silent_s,
                           failover_s=failover_s)

    def listing(self) -> list[dict[str, Any]]:
        return [f.row(self.lacking(f)) for f in self.followers.values()]

    def lacking(self, f: Follower) -> int:
        """Satellites' values this core took that were not sent to standby ``f`` (not
        yet flushed, or it fell behind and they are being resent): part of its lag, so
        a planned switch-over waits for them too."""
        if f.state != "connected":
            return 0
        return sum(max(0, sat.hwm - claims.follows(f.claim.get(sid), sat.epoch))
                   for sid, sat in self.gw.sats.items())
