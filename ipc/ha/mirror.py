"""``edgeos: ha-mirror``: a standby core's link to the primary (docs/high-availability.md).

A CURVE DEALER to the primary's satellite listener, authenticated by this core's node
key (trusted there as kind ``standby``) and pinning the primary's key (``--primary-key``
or first use). It takes the mirrored files (handed to the supervisor, which writes
them atomically with a backup and reloads) and the primary's last values (stored in the
local broker, never routed), acknowledging each numbered batch; a gap asks for a fresh
snapshot. Once a second it pings; the PONG carries the primary's epoch and its view of
the mirror lag.

While this core is ``standby`` and the primary has been unreachable for ``failover_s``,
it asks the supervisor to fail over; the supervisor decides with the vote (satellites,
witness). After a promotion it keeps connecting, saying ``active`` with its higher
epoch: a primary that comes back is fenced by that HELLO and demotes itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio
from edgeos.ipc import addresses
from edgeos.ipc.child import InstanceSpec, SupervisorLink
from edgeos.ipc.ha import wire
from edgeos.ipc.rpc import UNAVAILABLE, AsyncRpcClient, RpcError
from edgeos.ipc.satellite import keys
from edgeos.ipc.satellite import wire as satwire
from edgeos.ipc.satellite.dialer import Dialer, LinkState, ask_key, raise_failed, run_until_stopped

log = logging.getLogger("ha-mirror")

PRIMARY_PIN = "primary.pub"
PING_S = 1.0
#: storing a batch in our broker: after PUT_CHECK_S without an answer we ask it whether
#: it lost the request (it restarted); PUT_TRIES sends of one batch at most, then re-join
PUT_CHECK_S = 3.0
PUT_TRIES = 5


def load_pinned_primary(data_dir: Path) -> bytes | None:
    path = keys.keys_dir(data_dir) / PRIMARY_PIN
    if not path.exists():
        return None
    try:
        return keys.check_key(path.read_text(encoding="ascii"), str(path))
    except (OSError, ValueError) as exc:
        raise keys.KeyFileError(f"{path}: {exc}") from None


def pin_primary(data_dir: Path, key: bytes) -> None:
    """Pin the primary's public key."""
    keys.write_pin(keys.keys_dir(data_dir) / PRIMARY_PIN, key)


class Mirror:
    """The standby end of the mirror link; its figures go out in every heartbeat."""

    def __init__(self, spec: InstanceSpec) -> None:
        self.spec = spec
        link = spec.extra["link"]
        self.peer = str(link["peer"])
        host, port = satwire.parse_hostport(self.peer)
        self.endpoint = satwire.tcp(host, port)
        self.key_service = satwire.tcp(host, satwire.key_port(port))
        self.peer_key: bytes | None = link["peer_key"].encode() if link.get("peer_key") \
            else None
        self.role: str = link["role"]
        self.epoch: int = int(link["epoch"])
        self.listen: str | None = link.get("listen")
        self.name: str = link.get("name") or "standby"
        self.ask_handover: str | None = link.get("ask_handover")
        self.failover_s = float(link.get("failover_s", 5))
        self.ctx = zmq.asyncio.Context()
        self.link = SupervisorLink(self.ctx, spec)
        self.control = AsyncRpcClient(self.ctx, addresses.endpoint(spec.run_dir,
                                                                   addresses.CONTROL), 60)
        self.broker = AsyncRpcClient(self.ctx, addresses.endpoint(spec.run_dir,
                                                                  addresses.BROKER_CTL), 30)
        #: our satellite gateway: takes the satellites' sequences the primary holds
        self.gateway = AsyncRpcClient(self.ctx, addresses.endpoint(
            spec.run_dir, satwire.CTL_SOCK), 10) if self.listen else None
        self.dialer: Dialer | None = None
        self.linkstate = LinkState(log, ("offline", "fenced", "wrong_key"))
        self.handshaken = self.welcomed = False
        self.seq = 0
        self.dp = 0
        self.peer_epoch: int | None = None
        self.peer_role: str | None = None
        self.lag_dp: int | None = None
        self.lag_s: float | None = None
        self.rtt_ms: float | None = None
        self.last_heard = time.monotonic()
        self.files_applied = 0
        #: a batch is being stored in our broker: messages wait unread meanwhile, so
        #: the primary's silence is not measured (a stuck broker of ours promotes nothing)
        self.storing = False
        #: what our gateway holds of each satellite by the batches applied (our HELLO
        #: says it: a re-join then resends only what we lack)
        self.held: dict[str, list[Any]] = {}

    def _set_state(self, state: str, reason: str = "") -> None:
        self.linkstate.set(f"mirror link to {self.peer}", state, reason)

    # -- the peer's key ---------------------------------------------------------------
    async def _settle_key(self) -> None:
        """First use without ``--primary-key``: learn the primary's key and pin it."""
        while self.peer_key is None:
            announced = await ask_key(self.ctx, self.key_service, "announced primary key")
            if announced is not None:
                pin_primary(Path(self.spec.data_dir), announced)
                log.warning("pinned the primary's key %s (first use)", announced.decode())
                self.peer_key = announced
                return
            self._set_state("no_peer_key", f"waiting for {self.key_service} to announce "
                                           "its key (first use)")
            await asyncio.sleep(2.0)

    def _send(self, kind: bytes, body: Any) -> bool:
        return self.dialer is not None and self.dialer.send(kind, body)

    def _hello(self) -> None:
        self._send(wire.M_HELLO, {"name": self.name, "role": self.role, "epoch": self.epoch,
                                  "listen": self.listen, "sat_hwm": self.held})

    # -- messages ----------------------------------------------------------------------
    async def _recv_loop(self, dialer: Dialer) -> None:
        async for kind, body, _ in dialer.messages():
            self.last_heard = time.monotonic()
            try:
                await self._on(kind, body)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("malformed %s from the primary: %s", kind, exc)

    async def _on(self, kind: bytes, body: Any) -> None:
        if kind == satwire.REFUSED:  # the gateway: our key is not trusted (yet)
            self.welcomed = False
            self._set_state("refused", str(body.get("reason")))
        elif kind == wire.M_WELCOME:
            self.peer_epoch, self.peer_role = int(body["epoch"]), str(body["role"])
            if self.peer_epoch < self.epoch:  # a core that was taken over from
                self._set_state("fenced", f"{wire.STALE_EPOCH}: the peer is at epoch "
                                          f"{self.peer_epoch}, we have seen {self.epoch}")
                return
            self.welcomed = True
            self.seq = self.dp = 0
            if self.ask_handover:  # planned promotion: the primary hands over
                self._send(wire.M_HANDOVER, {"reason": self.ask_handover})
                self.ask_handover = None
            await self._seen(self.peer_epoch)
            self._set_state("mirroring", f"from {self.peer_role} at epoch {self.peer_epoch}")
        elif kind == wire.M_FENCED:
            self.welcomed = False
            self.peer_epoch, self.peer_role = int(body["epoch"]), str(body.get("role"))
            self._set_state("fenced", str(body.get("reason")))
        elif kind == wire.M_REJOIN and self.welcomed:
            log.warning("the primary stopped waiting for us (%s): re-joining",
                        body.get("reason"))
            self.welcomed = False
            self._hello()
        elif kind == wire.M_PONG:
            self.rtt_ms = round((time.monotonic() - float(body["t"])) * 1000, 2)
            self.peer_epoch, self.peer_role = int(body["epoch"]), str(body["role"])
            self.lag_dp, self.lag_s = int(body["lag_dp"]), float(body["lag_s"])
            await self._seen(self.peer_epoch)
        elif kind == wire.M_TAKEOVER and self.role == "standby":
            if int(body.get("epoch") or 0) < self.epoch:
                log.warning("hand-over refused: %s (epoch %s, we have seen %d)",
                            wire.STALE_EPOCH, body.get("epoch"), self.epoch)
                return
            took = body.get("sat_hwm")
            if isinstance(took, dict) and took and self.gateway is not None:
                try:  # what the primary published is not taken again (ipc/ha/wire.py)
                    await self.gateway.call("ha_hwm", hwm=took)
                except RpcError as exc:
                    log.error("the primary's satellite sequences not recorded before the "
                              "takeover (%s): values it took may be taken again", exc)
            try:
                await self.control.call("ha_promote", who="ha", reason=(
                    f"handover from {self.peer}: {body.get('reason')}"))
            except RpcError as exc:
                log.error("handover not taken: %s", exc)
        elif kind == wire.M_FILES and self.welcomed and self.role == "standby":
            files = {str(k): v for k, v in dict(body["files"]).items()}
            try:
                await self.control.call("ha_apply", files=files)
                self.files_applied += len(files)
            except RpcError as exc:
                log.error("mirrored files not applied: %s", exc)
        elif kind == wire.M_VALUES and self.welcomed and self.role == "standby":
            await self._values(body)

    async def _values(self, body: dict[str, Any]) -> None:
        seq = int(body["seq"])
        if seq != self.seq + 1:  # a batch went missing: start over with a snapshot
            log.warning("mirror batch %d after %d: asking for a fresh snapshot", seq, self.seq)
            self.welcomed = False
            self._hello()
            return
        self.storing = True
        try:
            stored = await self._put(seq, body)
        finally:
            self.storing = False
            self.last_heard = time.monotonic()  # what came meanwhile is read next
        if not stored:
            self.welcomed = False  # start over: a fresh snapshot
            self._hello()
            return
        if body.get("sat_hwm") and self.gateway is not None:  # before we acknowledge
            try:
                await self.gateway.call("ha_hwm", hwm=body["sat_hwm"])
            except RpcError as exc:  # start over: a fresh snapshot
                log.warning("satellite sequences not recorded: %s", exc)
                self.welcomed = False
                self._hello()
                return
            self.held.update(body["sat_hwm"])
        self.seq, self.dp = seq, int(body["dp"])
        self._send(wire.M_ACK, {"seq": self.seq, "dp": self.dp})

    async def _put(self, seq: int, body: dict[str, Any]) -> bool:
        """Store a batch in our broker, once; False: it never took it (a re-join follows).

        A request lost to a restart of our broker would wait for the RPC timeout (30 s,
        as long as the primary waits for our ACK before it gives up on us), and sending
        it again blindly could store it twice (a slow broker answers late). So after
        PUT_CHECK_S without an answer we ask the broker for its figures: it answers the
        requests of one socket in order, so an answer to that while the batch has none
        means the batch never reached it (sent again); no answer: it is busy or
        restarting, and we wait on."""
        for attempt in range(1, PUT_TRIES + 1):
            # a snapshot is the primary's state, not changes: the standby's record of the
            # changes (its change feed) would have each snapshot value out of order
            put = asyncio.ensure_future(self.broker.call(
                "mirror_put", batches=body["batches"], publish=not body.get("snapshot")))
            lost = False
            while not put.done():
                done, _ = await asyncio.wait({put}, timeout=PUT_CHECK_S)
                if done:
                    break
                try:
                    await self.broker.call("stats", timeout=PUT_CHECK_S)
                except RpcError:
                    continue  # busy or restarting: the batch may still be answered
                if not put.done():  # answered after the batch: the batch was lost
                    put.cancel()
                    lost = True
                    log.warning("mirror batch %d lost by our broker (it restarted?): "
                                "sending it again (%d of %d)", seq, attempt + 1, PUT_TRIES)
                    break
            if lost:
                continue
            try:
                put.result()
                return True
            except RpcError as exc:
                if exc.code != UNAVAILABLE:
                    raise
                log.warning("mirror batch %d not stored: %s", seq, exc)
                return False
        return False

    async def _seen(self, epoch: int) -> None:
        """A higher epoch than ours: the supervisor persists it (never lowered)."""
        if epoch > self.epoch:
            self.epoch = epoch
            try:
                await self.control.call("ha_seen", epoch=epoch)
            except RpcError as exc:
                log.warning("could not record epoch %d: %s", epoch, exc)

    # -- link health, failover ----------------------------------------------------------
    async def _monitor_loop(self, dialer: Dialer) -> None:
        async for event in dialer.events():
            kind = event["event"]
            if kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.handshaken = True
                self.last_heard = time.monotonic()
                self._set_state("handshake", "waiting for the primary's welcome")
                self._hello()
            elif kind == zmq.EVENT_DISCONNECTED:
                self.handshaken = self.welcomed = False
                self._set_state("offline", "link lost; reconnecting")
            elif kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self._set_state("refused", "the primary refused our key (ha trust it)")
            else:
                self._set_state("wrong_key", "CURVE handshake failed: the peer does not "
                                             "hold the key we pinned")

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(PING_S)
            if self.handshaken and not self.welcomed:
                self._hello()
            elif self.welcomed:
                self._send(wire.M_PING, {"t": time.monotonic()})
            silent = time.monotonic() - self.last_heard
            if self.role == "standby" and self.peer_epoch is not None \
                    and silent >= self.failover_s and not self.storing:
                await self._ask_failover(silent)

    async def _ask_failover(self, silent: float) -> None:
        """Once a second while the primary is silent: the supervisor votes and decides."""
        try:
            result = await self.control.call(
                "ha_failover", silent_s=round(silent, 2),
                reason=f"primary {self.peer} unreachable for {silent:.1f} s")
        except RpcError as exc:
            log.warning("failover not taken: %s", exc)
            return
        log.warning("failover %s: %s", "taken" if result.get("promoted") else "not taken",
                    result.get("detail"))

    def counters(self) -> dict[str, Any]:
        state, reason = self.linkstate.state, self.linkstate.reason
        return {"out_total": self.dp, "last_error": reason or None,
                "bus": {"state": state, "reason": reason, "peer": self.peer,
                        "peer_role": self.peer_role, "peer_epoch": self.peer_epoch,
                        "lag_dp": self.lag_dp, "lag_s": self.lag_s, "rtt_ms": self.rtt_ms,
                        "mirrored_dp": self.dp, "seq": self.seq,
                        "silent_s": round(time.monotonic() - self.last_heard, 2),
                        "files_applied": self.files_applied}}

    async def _load_held(self) -> None:
        """Start from what our gateway holds of each satellite (took itself while it was
        active, or mirrored): a core that handed over or restarted then gets mirrored only
        what follows, nothing it already published (its record has no sequence twice)."""
        if self.gateway is None:
            return
        try:
            held = await self.gateway.call("ha_held")
        except RpcError as exc:
            log.warning("what this core holds of its satellites is unknown (%s): the "
                        "active core starts at what the satellites were acknowledged", exc)
            return
        self.held = {str(k): list(v) for k, v in dict(held).items()}

    async def _link(self) -> None:
        await self._settle_key()
        await self._load_held()
        assert self.peer_key is not None
        self.dialer = Dialer(self.ctx, self.spec.data_dir, self.endpoint, self.peer_key)
        await asyncio.gather(self._recv_loop(self.dialer), self._monitor_loop(self.dialer))

    async def main(self) -> int:
        self.link.hello()
        self.link.ready()
        log.info("ha mirror (%s, epoch %d) -> %s", self.role, self.epoch, self.peer)
        done = await run_until_stopped((self._link(), self._ping_loop(),
                                        self.link.heartbeat_loop(self.counters)))
        self.control.close()
        self.broker.close()
        if self.gateway is not None:
            self.gateway.close()
        if self.dialer is not None:
            self.dialer.close()
        self.link.close(0)
        self.ctx.term()
        raise_failed(done)
        return 0
