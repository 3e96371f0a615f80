"""``edgeos: satellite-gateway``: the core's end of every satellite link.

A CURVE ROUTER bound on ``--satellite-listen`` with a ZAP authenticator (pyzmq's, in
this process) that refuses revoked keys. Each message is tied to the key the
handshake authenticated (the frame's ``User-Id``), never to the id a peer claims:
a key that is not in the trust store gets REFUSED and is listed as pending, and
nothing it sends is taken.

For each trusted satellite the gateway holds a DEALER on the core broker's worker
socket whose identity is the satellite id, so ``<sat>.<instance>.<path>`` resolves
to "instance" ``<sat>`` with path ``<instance>.<path>`` and routes, ``get``, ``set``
and the bridges work unchanged; commands the broker sends to that identity go to
the satellite. Datapoints are deduplicated by (satellite, epoch, sequence) against a
high-water mark persisted in ``<data>/satellites.db`` before the acknowledgement.
A link that goes down (socket monitor: the connection's fd closed, after ZeroMQ
heartbeats time out) marks the satellite ``offline`` and its datapoints
``uncertain``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import signal
import sqlite3
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio
from edgeos.ipc import addresses, protocol
from edgeos.ipc.child import InstanceSpec, SupervisorLink
from edgeos.ipc.commands import find
from edgeos.ipc.ha.source import MirrorSource
from edgeos.ipc.ha.wire import M_HELLO
from edgeos.ipc.rpc import (
    BAD_REQUEST,
    NOT_FOUND,
    REFUSED,
    UNAVAILABLE,
    AsyncRpcClient,
    RpcError,
    RpcServer,
)
from edgeos.ipc.satellite import keys, mdns, walcheckpoint, wire
from edgeos.ipc.satellite.command_hold import HOLD_S, MAX_HELD, CommandHold, refusals
from edgeos.ipc.satellite.gateway_commands import GatewayCommand
from edgeos.ipc.satellite.peer import LinkPeer
from edgeos.ipc.satellite.trust import RemoteClients, TrustStore
from edgeos.ipc.satellite.wire import CTL_SOCK
from zmq.auth.asyncio import AsyncioAuthenticator
from zmq.utils.monitor import recv_monitor_message

log = logging.getLogger("satellite-gateway")


HWM_FILE = "satellites.db"
MAX_PENDING = 100
MAX_ADDRESSES = 100_000  # last values kept per satellite (to mark them uncertain)
MAX_WRITES = 10_000  # commands waited on per satellite, oldest forgotten first
PENDING_TTL_S = 3600
#: acknowledgements of a live link coalesce over ACK_S (one per burst, not one per
#: message: an ACK frees the satellite's buffer, it carries no latency); a message of
#: ACK_BATCH datapoints or more (a catch-up's, read back from the buffer) is
#: acknowledged at once, as before, and so is any run of ACK_ITEMS
ACK_S = 0.05
ACK_BATCH = 64
ACK_ITEMS = wire.CHUNK_MAX
VIEWER_CMDS = frozenset({"status", "list", "get", "logs", "errors", "satellites", "routes",
                         "datapoints", "route_test", "help", "system", "node_key"})


@dataclass
class Satellite(LinkPeer):
    """One trusted satellite and its link's figures."""

    id: str
    key: str
    broker: zmq.asyncio.Socket
    fd: int | None = None
    epoch: str = ""
    hwm: int = 0
    rewound_at: int = -1  # the hwm a rewind was last asked at (one per gap)
    stale: set[str] = field(default_factory=set)  # marked uncertain, not renewed yet
    catchup: int = 0  # the satellite's last sequence when it reconnected
    backlog: int = 0
    overflow: int = 0
    rtt_ms: float | None = None
    delivered: int = 0
    duplicates_dropped: int = 0
    last: dict[str, list[Any]] = field(default_factory=dict)
    stats: list[dict[str, Any]] = field(default_factory=list)
    #: commands someone waits on, by path: confirmed when the device reports the path
    writes: OrderedDict[str, list[int]] = field(default_factory=OrderedDict)
    unacked: int = 0  # datapoints taken since the last ACK
    told: int = 0  # the last sequence it was told is acknowledged (HA: a standby's base)
    ack_timer: asyncio.TimerHandle | None = None
    #: commands that came while it was not connected: sent when it is (command_hold.py)
    held: CommandHold = field(default_factory=CommandHold)
    held_timer: asyncio.TimerHandle | None = None

    def row(self) -> dict[str, Any]:
        return {"id": self.id, "key": self.key, "state": self.state, "address": self.address,
                "last_seen": self.last_seen, "backlog": self.backlog, "rtt_ms": self.rtt_ms,
                "delivered": self.delivered, "duplicates_dropped": self.duplicates_dropped,
                "overflow": self.overflow, "epoch": self.epoch, "acked": self.hwm}


class HighWater:
    """Per satellite: the epoch of its buffer and the last sequence the core took."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        path.chmod(0o600)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        walcheckpoint.disable_auto(self.db)  # checkpoints in a thread, not in put()
        self.checkpoints = walcheckpoint.Checkpointer(path, self.db)
        self.db.execute("CREATE TABLE IF NOT EXISTS hwm (id TEXT PRIMARY KEY, epoch TEXT, "
                        "seq INTEGER)")

    def get(self, sat_id: str) -> tuple[str, int]:
        row = self.db.execute("SELECT epoch, seq FROM hwm WHERE id = ?", (sat_id,)).fetchone()
        return (row[0], row[1]) if row else ("", 0)

    def put(self, sat_id: str, epoch: str, seq: int) -> None:
        """Once per DATA message: an UPDATE in place writes one page to the WAL where
        INSERT OR REPLACE wrote two (the row and its id index: delete, then insert)."""
        if not self.db.execute("UPDATE hwm SET epoch = ?, seq = ? WHERE id = ?",
                               (epoch, seq, sat_id)).rowcount:
            self.db.execute("INSERT INTO hwm VALUES (?, ?, ?)", (sat_id, epoch, seq))
        self.checkpoints.committed()

    def close(self) -> None:
        self.checkpoints.close()
        self.db.close()


class Gateway:
    """The ROUTER, the ZAP handler, one broker DEALER per trusted satellite."""

    def __init__(self, spec: InstanceSpec) -> None:
        self.spec = spec
        self.data = Path(spec.data_dir)
        self.host, self.port = wire.parse_hostport(spec.extra["link"]["listen"])
        self.ctx = zmq.asyncio.Context()
        self.link = SupervisorLink(self.ctx, spec)
        self.public, self.secret = keys.load_node_keys(self.data)
        self.trust = TrustStore.load(self.data)
        self.clients = RemoteClients.load(self.data)
        self.control = AsyncRpcClient(self.ctx, addresses.endpoint(spec.run_dir,
                                                                   addresses.CONTROL), 40)
        self.hwm = HighWater(self.data / HWM_FILE)
        self.sats: dict[str, Satellite] = {}
        self.by_key: dict[str, Satellite] = {}
        self.pending: dict[str, dict[str, Any]] = {}
        self.refused = 0
        self._ctl_ids = itertools.count(1)
        self._ctl_waiters: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.auth = AsyncioAuthenticator(self.ctx)
        self.auth.configure_curve_callback("*", self)
        self.mirror = MirrorSource(self)  # HA: standby cores mirroring this one

    # -- ZAP -------------------------------------------------------------------------
    def callback(self, domain: str, key: bytes) -> bool:
        """ZAP: a revoked key never gets a link; an unknown one is listed as pending
        (and refused at its HELLO)."""
        z85 = key.decode("ascii")
        if self.trust.is_revoked(z85) and self.trust.id_of(z85) is None:
            log.warning("refused revoked key %s...", z85[:8])
            return False
        if self.trust.id_of(z85) is None and not self.mirror.handles(z85):
            self._note_pending(z85, None, None)
        return True

    def _note_pending(self, key: str, claimed: str | None, address: str | None) -> None:
        now = time.time()
        for k in [k for k, p in self.pending.items() if now - p["last_seen"] > PENDING_TTL_S]:
            del self.pending[k]
        entry = self.pending.get(key)
        if entry is None:
            if len(self.pending) >= MAX_PENDING:
                oldest = min(self.pending, key=lambda k: self.pending[k]["last_seen"])
                del self.pending[oldest]
            entry = self.pending[key] = {"key": key, "id": None, "address": None,
                                         "first_seen": now, "attempts": 0}
            log.warning("untrusted satellite key %s... tried to connect: pending", key[:8])
        entry["attempts"] += 1
        entry["last_seen"] = now
        entry["id"] = claimed or entry["id"]
        entry["address"] = address or entry["address"]

    # -- sockets ---------------------------------------------------------------------
    def _open_router(self) -> None:
        sock = self.ctx.socket(zmq.ROUTER)
        wire.link_options(sock)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        sock.curve_server = True
        sock.curve_publickey = self.public
        sock.curve_secretkey = self.secret
        try:
            sock.bind(wire.tcp(self.host, self.port))
        except zmq.ZMQError:
            sock.close(0)
            raise
        self.monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED
                                               | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                                               | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        self.router = sock

    def _close_router(self) -> None:
        self.router.disable_monitor()
        self.monitor.close(0)
        self.router.close(0)

    def _satellite(self, sat_id: str, key: str) -> Satellite:
        dealer = self.ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.IDENTITY, sat_id.encode())
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.setsockopt(zmq.SNDHWM, 1000)
        dealer.connect(addresses.endpoint(self.spec.run_dir, addresses.BROKER))
        epoch, hwm = self.hwm.get(sat_id)
        sat = Satellite(sat_id, key, dealer, epoch=epoch, hwm=hwm)
        self._spawn(self._broker_loop(sat))
        return sat

    async def _rebind(self) -> None:
        """Close every link (ZeroMQ cannot drop one peer of a ROUTER) and listen again;
        the port is released by ZeroMQ's I/O thread, so the bind is retried briefly."""
        for task in self._router_tasks:
            task.cancel()
        self._close_router()
        for _ in range(100):
            try:
                self._open_router()
                break
            except zmq.ZMQError as exc:
                if exc.errno != zmq.EADDRINUSE:
                    raise
                await asyncio.sleep(0.01)
        else:
            self._open_router()  # raises: the gateway fails and is restarted
        self._router_tasks = [self._spawn(self._router_loop()),
                              self._spawn(self._monitor_loop())]

    async def sync_trust(self) -> None:
        """Bring the satellites in line with the trust store; cut revoked links."""
        self.trust = TrustStore.load(self.data)
        self.clients = RemoteClients.load(self.data)
        self.mirror.sync(self.trust.standby)
        cut = False
        for sat_id, sat in list(self.sats.items()):
            entry = self.trust.trusted.get(sat_id)
            if entry is None or entry["key"] != sat.key:
                log.warning("satellite %s: trust withdrawn; closing its link", sat_id)
                if sat.rid is not None:
                    self._send(sat.rid, wire.REFUSED, {"reason": "revoked", "pending": False})
                    cut = True
                self._go_offline(sat, "revoked")
                self._refuse(sat, sat.held.take(), f"satellite {sat_id} was revoked")
                self._arm_held(sat)
                sat.broker.close(0)
                del self.sats[sat_id]
                self.by_key.pop(sat.key, None)
        for sat_id, entry in self.trust.trusted.items():
            if sat_id not in self.sats:
                sat = self.sats[sat_id] = self._satellite(sat_id, entry["key"])
                self.by_key[sat.key] = sat
                self.pending.pop(sat.key, None)
        if cut:  # the others reconnect at once and resume from their last ack
            await self._rebind()

    # -- link ------------------------------------------------------------------------
    def _send(self, rid: bytes, kind: bytes, body: Any) -> bool:
        # False: the peer is gone (ROUTER_MANDATORY) or its queue is full
        return wire.try_send(self.router, [rid, kind, protocol.pack(body)])

    async def _router_loop(self) -> None:
        sock = self.router
        while True:
            frames = await sock.recv_multipart(copy=False)
            if len(frames) < 3:
                continue
            key = frames[1].get("User-Id")
            rid = frames[0].bytes
            sat = self.by_key.get(key)
            kind = frames[1].bytes
            if sat is None and self.mirror.handles(key):
                self.mirror.on_message(rid, key, kind, frames)
                continue
            if sat is None:
                if kind == wire.RPC:
                    self._spawn(self._remote_rpc(rid, key, frames[2].bytes))
                else:
                    self._untrusted(rid, key, kind, frames)
                continue
            if sat.heard(rid, frames[1]):
                sat.fd = frames[1].get(zmq.SRCFD)
            try:
                if kind == wire.DATA and len(frames) == 4:
                    await self._data(sat, protocol.unpack(frames[2].buffer), frames[3])
                    # a satellite's catch-up arrives as fast as we take it: let the
                    # heartbeat (the watchdog) and the mirror's flush run in between
                    await asyncio.sleep(0)
                elif kind == wire.PING:
                    self._ping(sat, protocol.unpack(frames[2].buffer))
                elif kind == wire.HELLO:
                    self._hello(sat, protocol.unpack(frames[2].buffer))
                elif kind == wire.FENCED:
                    self._spawn(self.mirror.fenced_by(sat.id, protocol.unpack(
                        frames[2].buffer)))
                elif kind == wire.RESULT:
                    reply = protocol.unpack(frames[2].buffer)
                    fut = self._ctl_waiters.pop(reply.get("id"), None)
                    if fut is not None and not fut.done():
                        fut.set_result(reply)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("satellite %s: malformed %s message: %s", sat.id, kind, exc)

    def _untrusted(self, rid: bytes, key: str, kind: bytes, frames: list[zmq.Frame]) -> None:
        self.refused += 1
        claimed = None
        if kind == wire.HELLO:
            with contextlib.suppress(ValueError, AttributeError):
                claimed = str(protocol.unpack(frames[2].buffer).get("id"))[:64]
        self._note_pending(key, claimed, frames[1].get("Peer-Address"))
        if kind == M_HELLO:  # a core that wants to mirror this one
            self._send(rid, wire.REFUSED, {"reason": "key not trusted as a standby (on this "
                                           f"core: edgectl ha trust {key})", "pending": True})
        if kind == wire.HELLO:
            bound = self.trust.trusted.get(claimed or "")
            reason = (f"id {claimed!r} is bound to another key" if bound else
                      "key not trusted by the core (pending: edgectl satellites trust "
                      f"--pending {claimed})")
            self._send(rid, wire.REFUSED, {"reason": reason, "pending": not bound})

    def _hello(self, sat: Satellite, body: dict[str, Any]) -> None:
        epoch = str(body.get("epoch", ""))
        if epoch != sat.epoch:  # a new buffer on the satellite: its sequence starts over
            log.info("satellite %s: new buffer epoch %s (was %s)", sat.id, epoch,
                     sat.epoch or "-")
            sat.epoch, sat.hwm = epoch, 0
            self.hwm.put(sat.id, epoch, 0)
        acked = int(body.get("acked") or 0)  # another core (HA) took up to there
        if acked > sat.hwm:
            sat.hwm = acked
            self.hwm.put(sat.id, epoch, acked)
        if not self.mirror.state.active or self.mirror.quiesced:  # HA: a standby takes no
            if not self.mirror.quiesced:  # satellite; its visit may say it lost the active one
                self.mirror.visited(sat.id, body)
            reason = "this core started as the active one and has not heard from its " \
                "standby yet" if self.mirror.start_hold is not None else \
                f"standby core (the active one is {self.mirror.state.peer})"
            self._send(sat.rid or b"", wire.REFUSED, {"reason": reason, "pending": False,
                                                      "standby": True})
            return
        sat.state = "connected"
        self.mirror.check_alone(f"satellite {sat.id} connected")
        sat.catchup = int(body.get("last_seq") or 0)
        self._restore(sat)
        log.info("satellite %s connected from %s (core has up to seq %d)", sat.id,
                 sat.address, sat.hwm)
        # HA: only what the standby holds too; the satellite resends the rest, which we
        # drop as duplicates and the standby takes (MirrorSource.sat_replay)
        sat.told = self._ackable(sat)
        self._send(sat.rid or b"", wire.WELCOME, {"id": sat.id, "acked": sat.told,
                                                  "ha_epoch": self.mirror.state.epoch,
                                                  "ha_role": self.mirror.state.role})
        self._release_held(sat)

    async def _data(self, sat: Satellite, head: dict[str, Any], chunk: zmq.Frame) -> None:
        if head.get("e") != sat.epoch or sat.state != "connected":
            return  # before its HELLO was answered: it will resend
        first = int(head["s"])
        if first > sat.hwm + 1:  # a message went missing: have it resend from the gap
            if sat.rewound_at != sat.hwm:
                sat.rewound_at = sat.hwm
                self.rewind(sat)
            return
        items = protocol.unpack(chunk.buffer)
        skip = max(0, min(len(items), sat.hwm - first + 1))
        if skip:
            sat.duplicates_dropped += skip
            self.mirror.sat_replay(sat.id, sat.epoch, first, items[:skip])
            items = items[skip:]
        if items:
            body = chunk if not skip else protocol.pack(items)
            # waits while the broker's queue is full: back-pressure up to the satellite
            await sat.broker.send_multipart([protocol.DP, body], copy=False)
            self._confirm(sat, items)
            sat.delivered += len(items)
            last = sat.last
            for item in items:
                if len(last) < MAX_ADDRESSES or item[0] in last:
                    last[item[0]] = item
            if sat.stale:
                sat.stale.difference_update(item[0] for item in items)
            sat.hwm = first + skip + len(items) - 1
            self.hwm.put(sat.id, sat.epoch, sat.hwm)
            self.mirror.sat_items(sat.id, sat.epoch, sat.hwm, items)
            if sat.stale:
                self._restore(sat)
        self._ack_soon(sat, len(items))

    def _ack_soon(self, sat: Satellite, taken: int) -> None:
        """Acknowledge within ACK_S, or now once ACK_ITEMS datapoints are unacknowledged."""
        sat.unacked += taken
        if taken >= ACK_BATCH or sat.unacked >= ACK_ITEMS:
            self._ack_now(sat)
        elif sat.ack_timer is None:
            sat.ack_timer = asyncio.get_running_loop().call_later(ACK_S, self._ack_now, sat)

    def _ack_now(self, sat: Satellite) -> None:
        if sat.ack_timer is not None:
            sat.ack_timer.cancel()
            sat.ack_timer = None
        sat.unacked = 0
        self._tell_acked(sat)

    def _ackable(self, sat: Satellite) -> int:
        return self.mirror.ackable(sat.id, sat.epoch, sat.hwm)

    def _tell_acked(self, sat: Satellite, rewind: bool = False) -> None:
        sat.told = self._ackable(sat)
        body = {"acked": sat.told, "rewind": True} if rewind else {"acked": sat.told}
        self._send(sat.rid or b"", wire.ACK, body)

    def rewind(self, sat: Satellite) -> None:
        """Have the satellite resend from what it was acknowledged (a gap here, or
        values a standby lacks: HA)."""
        if sat.state == "connected" and sat.rid is not None:
            self._tell_acked(sat, rewind=True)

    def ack_satellites(self) -> None:
        """HA: the standby acknowledged more: so may we, to the satellites."""
        for sat in self.sats.values():
            if sat.state == "connected" and sat.rid is not None:
                self._tell_acked(sat)

    @staticmethod
    def _confirm(sat: Satellite, items: list[list[Any]]) -> None:
        """A device on the satellite reported a path a waited-on command wrote (ack
        true): tell the core broker it is confirmed, as a local worker would. A refusal
        on the satellite is not carried back yet: the caller sees a timeout."""
        if not sat.writes:
            return
        replies = [[cmd_id, item[0], None, "confirmed", None] for item in items
                   if item[4] and item[0] in sat.writes
                   for cmd_id in sat.writes.pop(item[0])]
        if replies:
            wire.try_send(sat.broker, [protocol.REPLY, protocol.pack(replies)])

    def _ping(self, sat: Satellite, body: dict[str, Any]) -> None:
        sat.backlog = int(body.get("backlog", 0))
        sat.overflow = int(body.get("overflow", 0))
        sat.rtt_ms = body.get("rtt_ms")
        if isinstance(body.get("stats"), list):
            sat.stats = body["stats"][:1000]
        self._send(sat.rid or b"", wire.PONG, {"t": body.get("t")})

    def _go_offline(self, sat: Satellite, why: str) -> None:
        """Down: state offline, and its last values again with quality ``uncertain``."""
        if sat.state != "connected":
            return
        sat.state = "offline"
        sat.rid = sat.fd = None
        log.warning("satellite %s offline: %s", sat.id, why)
        self.mirror.check_alone(f"satellite {sat.id} offline")
        sat.stale = set(sat.last)
        self._republish(sat, sat.stale, "uncertain")

    def _restore(self, sat: Satellite) -> None:
        """Once the core has all the satellite held at its reconnect, the values that
        did not change meanwhile hold again: re-published with their own quality."""
        if sat.stale and sat.hwm >= sat.catchup:
            self._republish(sat, sat.stale, None)
            sat.stale = set()

    @staticmethod
    def _republish(sat: Satellite, addresses: set[str], quality: str | None) -> None:
        """Last values again, with ``quality`` (None: their own)."""
        items = [[a, i[1], i[2], quality or i[3], i[4], i[5]] for a in addresses
                 if (i := sat.last.get(a)) is not None]
        for start in range(0, len(items), 1000):
            wire.try_send(sat.broker, [protocol.DP, protocol.pack(items[start:start + 1000])])

    async def _monitor_loop(self) -> None:
        monitor = self.monitor
        while True:
            event = await recv_monitor_message(monitor)
            if event["event"] == zmq.EVENT_DISCONNECTED:
                self.mirror.disconnected(event["value"])
                for sat in self.sats.values():
                    if sat.fd is not None and sat.fd == event["value"]:
                        self._go_offline(sat, "link lost")
            else:
                log.warning("a peer failed the CURVE handshake on %s (it does not hold "
                            "this core's key?)", event["endpoint"].decode(errors="replace"))

    async def _remote_rpc(self, rid: bytes, key: str, raw: bytes) -> None:
        """``edgectl --endpoint``: a trusted client key's request, passed to the
        supervisor's control socket if its role allows it."""
        try:
            req = protocol.unpack(raw)
            req_id, cmd, args = req.get("id"), req["cmd"], req.get("args") or {}
        except (ValueError, KeyError, TypeError, AttributeError):
            return
        client = self.clients.by_key(key)
        reply: dict[str, Any] = {"id": req_id, "ok": False, "code": REFUSED, "detail": None}
        if client is None:
            reply["error"] = ("client key not trusted by this core (on the core: edgectl "
                              f"remote trust {key} --name NAME --role viewer|admin)")
        elif client[1] != "admin" and cmd not in VIEWER_CMDS:
            reply["error"] = f"the {client[1]} role of {client[0]!r} may not {cmd!r}"
        else:
            try:
                reply.update(ok=True, result=await self.control.call(cmd, **args))
            except RpcError as exc:
                reply.update(error=str(exc), code=exc.code, detail=exc.detail)
            except TypeError as exc:
                reply.update(error=f"malformed request: {exc}", code=BAD_REQUEST)
        self._send(rid, wire.RPC, reply)

    async def _key_service(self, sock: zmq.asyncio.Socket) -> None:
        """Announce the public key (and nothing else) for a satellite's first use."""
        reply = protocol.pack({"key": self.public.decode(),
                               "fingerprint": keys.fingerprint(self.public)})
        while True:
            frames = await sock.recv_multipart()
            wire.try_send(sock, [frames[0], reply])

    async def _broker_loop(self, sat: Satellite) -> None:
        """Commands the core broker sends to ``<sat>.*``: on to the satellite."""
        while True:
            frames = await sat.broker.recv_multipart()
            if len(frames) < 2 or frames[0] != protocol.CMD:
                continue
            commands = protocol.unpack(frames[1])
            items = [[i[0], i[1]] for i in commands]
            for item in commands:  # [path, value, ts, origin, id]: remember waited ones
                if len(item) > 4 and item[4] is not None:
                    sat.writes.setdefault(str(item[0]), []).append(item[4])
                    sat.writes.move_to_end(str(item[0]))
                    while len(sat.writes) > MAX_WRITES:
                        sat.writes.popitem(last=False)
            if not self.mirror.state.active:  # a standby core actuates nothing (HA)
                self.mirror.held += len(items)
                continue
            if len(sat.held) or not self._send_commands(sat, commands):
                self._hold(sat, commands)

    def _send_commands(self, sat: Satellite, commands: list[list[Any]]) -> bool:
        """To the satellite, tagged with our epoch (its fence); False: not sent (it is
        not connected, or its queue is full)."""
        if sat.state != "connected" or sat.rid is None:
            return False
        fence = protocol.pack({"ha_epoch": self.mirror.state.epoch})
        return wire.try_send(self.router, [sat.rid, wire.CMD, protocol.pack(
            [[c[0], c[1]] for c in commands]), fence])

    def _hold(self, sat: Satellite, commands: list[list[Any]]) -> None:
        """Not connected (e.g. on its way to us after a switch-over): held until it is,
        at most HOLD_S (command_hold.py)."""
        log.warning("satellite %s is %s: %d command(s) held for up to %.0f s until it "
                    "connects", sat.id, sat.state, len(commands), HOLD_S)
        self._refuse(sat, sat.held.add(commands, time.monotonic()),
                     f"satellite {sat.id} is {sat.state} and {MAX_HELD} commands wait for it")
        self._arm_held(sat)

    def _arm_held(self, sat: Satellite) -> None:
        if sat.held_timer is not None:
            sat.held_timer.cancel()
            sat.held_timer = None
        due = sat.held.next_expiry()
        if due is not None:
            sat.held_timer = asyncio.get_running_loop().call_later(
                max(0.0, due - time.monotonic()), self._expire_held, sat)

    def _expire_held(self, sat: Satellite) -> None:
        sat.held_timer = None
        self._refuse(sat, sat.held.expired(time.monotonic()),
                     f"satellite {sat.id} did not connect within {HOLD_S:.0f} s")
        self._arm_held(sat)

    def _release_held(self, sat: Satellite) -> None:
        """Welcomed: the held commands go out, once."""
        if len(sat.held) and self._send_commands(sat, [c for _, c in sat.held.items]):
            log.info("satellite %s: %d held command(s) sent", sat.id, len(sat.held))
            sat.held.take()
            self._arm_held(sat)

    def _refuse(self, sat: Satellite, commands: list[list[Any]], why: str) -> None:
        """``not_delivered`` to whoever sent them (a waiting set, a route's count)."""
        for c in commands:  # no confirmation is waited for any more
            ids = sat.writes.get(str(c[0]))
            if ids is not None and len(c) > 4 and c[4] in ids:
                ids.remove(c[4])
                if not ids:
                    del sat.writes[str(c[0])]
        if commands:
            log.warning("satellite %s: %d command(s) not delivered: %s", sat.id,
                        len(commands), why)
            wire.try_send(sat.broker, [protocol.REPLY, protocol.pack(
                refusals(commands, protocol.NOT_DELIVERED, why))])

    # -- control (from the supervisor) -----------------------------------------------
    async def handle(self, cmd: str, args: dict[str, Any]) -> Any:
        """A control request: the command class (:mod:`edgeos.ipc.satellite.gateway_commands`)
        checks its declared arguments, then runs."""
        return await find(GatewayCommand.registry, cmd)(self).answer(args)

    def enforce_role(self) -> dict[str, Any]:
        """Re-read ha.json; a standby (or a quiesced core) sends its connected satellites
        away, so they buffer until the active core takes them."""
        if not self.mirror.load_state().active:  # a stale command follows no hand-over
            for sat in self.sats.values():
                self._refuse(sat, sat.held.take(), "this core is now a standby (the active "
                             f"core is {self.mirror.state.peer}): not sent")
                self._arm_held(sat)
        if not self.mirror.state.active or self.mirror.quiesced:
            for sat in self.sats.values():
                if sat.state == "connected" and sat.rid is not None:
                    self._send(sat.rid, wire.REFUSED, {"reason": "this core is now a standby",
                                                       "standby": True})
                    self._go_offline(sat, "core demoted to standby")
        return {"role": self.mirror.state.role}

    def listing(self) -> list[dict[str, Any]]:
        rows = [s.row() for s in self.sats.values()]
        rows += [{"id": p["id"], "key": k, "state": "pending", "address": p["address"],
                  "last_seen": p["last_seen"], "attempts": p["attempts"]}
                 for k, p in self.pending.items()]
        rows += [{"id": i, "key": e["key"], "state": "revoked", "address": None,
                  "last_seen": None} for i, e in self.trust.revoked.items()]
        return rows

    async def instance_command(self, sat_id: str, cmd: str, args: dict[str, Any]) -> Any:
        sat = self.sats.get(sat_id)
        if sat is None:
            raise RpcError(f"no trusted satellite {sat_id!r}", NOT_FOUND)
        if sat.state != "connected" or sat.rid is None:
            raise RpcError(f"satellite {sat_id} is {sat.state}", UNAVAILABLE)
        req = next(self._ctl_ids)
        fut = self._ctl_waiters[req] = asyncio.get_running_loop().create_future()
        self._send(sat.rid, wire.CTL, {"id": req, "cmd": cmd, "args": args})
        try:
            reply = await asyncio.wait_for(fut, 30)
        except TimeoutError:
            raise RpcError(f"satellite {sat_id} did not answer {cmd!r}", UNAVAILABLE) from None
        finally:
            self._ctl_waiters.pop(req, None)
        if not reply.get("ok"):
            raise RpcError(f"{sat_id}: {reply.get('error')}", reply.get("code") or REFUSED)
        return reply.get("result")

    def counters(self) -> dict[str, Any]:
        connected = sum(s.state == "connected" for s in self.sats.values())
        return {"in_total": sum(s.delivered for s in self.sats.values()),
                "bus": {"listen": f"{self.host}:{self.port}", "connected": connected,
                        "trusted": len(self.sats), "pending": len(self.pending),
                        "refused_messages": self.refused,
                        "ha_held_commands": self.mirror.held},
                "satellites": {i: s.stats for i, s in self.sats.items()
                               if s.state == "connected"}}

    # -- lifecycle -------------------------------------------------------------------
    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("gateway task failed", exc_info=task.exception())
            self.link.error(task.exception(), fatal=True, where="satellite-gateway")
            self._stop.set()

    async def main(self) -> int:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.link.hello()
        self.auth.start()
        self._open_router()
        ctl = self.ctx.socket(zmq.ROUTER)
        ctl.setsockopt(zmq.LINGER, 0)
        addresses.bind(ctl, self.spec.run_dir, CTL_SOCK)
        self._router_tasks = [self._spawn(self._router_loop()),
                              self._spawn(self._monitor_loop())]
        await self.sync_trust()
        self.mirror.hold_at_start()
        self.mirror.start()
        self._spawn(RpcServer(ctl, self.handle).serve())
        keysvc = self.ctx.socket(zmq.ROUTER)
        keysvc.setsockopt(zmq.LINGER, 0)
        keysvc.setsockopt(zmq.MAXMSGSIZE, 64)
        keysvc.bind(wire.tcp(self.host, wire.key_port(self.port)))
        self._spawn(self._key_service(keysvc))
        self._spawn(self.link.heartbeat_loop(self.counters))
        self.link.ready()
        # probing the name takes a second: the link is served meanwhile
        announcing = self._spawn(mdns.announce(self.spec.extra["link"].get("mdns") or [],
                                               self.port, self.public))
        log.info("satellite gateway on %s:%d, key %s (%d trusted)", self.host, self.port,
                 self.public.decode(), len(self.sats))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        await self._stop.wait()
        if announcing.done() and not announcing.cancelled() \
                and announcing.exception() is None and announcing.result() is not None:
            await announcing.result().close()
        for task in list(self._tasks):
            task.cancel()
        self.auth.stop()
        self.mirror.close()
        self._close_router()
        for sat in self.sats.values():
            sat.broker.close(0)
        ctl.close(0)
        keysvc.close(0)
        self.control.close()
        self.link.close(0)
        self.hwm.close()
        self.ctx.term()
        return 0
