"""``edgeos: uplink``: a satellite's link to its core (CONTRACT section 8).

Takes every datapoint change from the local broker (``changes.sock``), commits it to
the on-disk :class:`~edgeos.ipc.satellite.buffer.Buffer` and sends it over a CURVE
DEALER to the core, at most ``WINDOW`` datapoints ahead of the core's cumulative
acknowledgement. After every (re)connect the core's WELCOME says what it already has
and sending resumes right after it, so a cut link, a core restart or a killed
satellite loses and doubles nothing. Commands from the core go to the local broker
as commands of this process; instance commands go to the local supervisor.

The link's state comes from the socket monitor (handshake succeeded, disconnected,
handshake failed) and ZeroMQ heartbeats, never from polling.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import sqlite3
import time
from typing import Any

import zmq
import zmq.asyncio
from edgeos.ipc import addresses, low_power, protocol
from edgeos.ipc.child import InstanceSpec, SupervisorLink
from edgeos.ipc.ha.fence import Fence
from edgeos.ipc.rpc import AsyncRpcClient, RpcError
from edgeos.ipc.satellite import keys, wire
from edgeos.ipc.satellite.buffer import Buffer
from edgeos.ipc.satellite.dialer import Dialer, LinkState, ask_key, raise_failed, run_until_stopped

log = logging.getLogger("uplink")

FEED_HWM = 200_000  # change messages the SUB socket may queue while the disk is busy
FEED_HWM_LOW_POWER = 20_000  # the same on the LOW_POWER profile
DRAIN_MAX = 500
STORE_RETRY_S = 0.2  # a buffer write that found the database locked is tried again
FLUSH_S = 0.2
KEY_RETRY_S = 3.0
SWITCH_S = 2.0  # HA: a core that has not welcomed us by then is left for the next
INSTANCE_CMDS = ("start", "stop", "restart", "kill", "status")
STAT_KEYS = ("id", "name", "type", "role", "status", "reason", "enabled", "pid", "nice",
             "cpu_percent", "memory_mb", "memory_percent", "pps_in", "pps_out",
             "uptime_seconds", "restarts", "error_count", "last_error", "heartbeat_age_s",
             "dropped", "limits")


class Uplink:
    """The satellite end of the link; its state is reported in every heartbeat."""

    def __init__(self, spec: InstanceSpec) -> None:
        self.spec = spec
        link = spec.extra["link"]
        self.sat_id: str = link["satellite_id"]
        self.mdns: list[str] = link.get("mdns") or []  # no core_host: browse on these
        self.core = self.key_service = ""
        if link.get("core_host"):
            self._set_core(link["core_host"], int(link["core_port"]))
        # None: trust on first use (asked from the core's key service, then pinned)
        self.core_key: bytes | None = link["core_key"].encode("ascii") \
            if link.get("core_key") else None
        self.tofu = bool(link.get("tofu"))  # pinned, not given: check what the core says
        #: HA: every core this satellite knows, ``[host, port, key]``; data goes to the one
        #: that welcomes it (the active core), the others refuse as standby
        self.cores: list[list[Any]] = link.get("cores") or []
        self.core_i = 0
        self.dialer: Dialer | None = None
        self.ctx = zmq.asyncio.Context()
        self.link = SupervisorLink(self.ctx, spec)
        self.buffer = Buffer(spec.data_dir, int(link.get("buffer_mb", 256)) * 1024 * 1024)
        self.unstored: list[list[Any]] = []  # taken from the feed, not yet in the buffer
        self.store_retry: asyncio.TimerHandle | None = None
        self.fence = Fence(spec.data_dir)
        self.linkstate = LinkState(log, ("offline", "refused", "wrong_key"))
        self.welcomed = False
        self.handshaken = False  # CURVE is up; a HELLO is pending or was refused
        #: HA: when a core that is not a standby last said anything (our HELLO tells a
        #: standby how long ago: its failover vote, ipc/ha/vote.py)
        self.active_heard = time.monotonic()
        #: HA: cores tried since the last welcome that said nothing at all (down, or cut
        #: from us); one refusing as a standby is not counted. Also in our HELLO.
        self.failed_tries = 0
        self.dialed_at = time.monotonic()
        self.standby_refused = False  # the current core refused us as a standby
        self.sent_upto = self.buffer.acked
        self.rtt_ms: float | None = None
        self.sent_total = 0
        self.cmds_in = 0
        self._wake = asyncio.Event()
        self._rate_mark = (time.monotonic(), 0, 0)

    # -- sockets ---------------------------------------------------------------------
    def _open(self) -> None:
        # read when its (edge-triggered) fd signals, drained without awaiting
        self.feed = zmq.Socket(self.ctx, zmq.SUB)
        self.feed.setsockopt(zmq.LINGER, 0)
        self.feed.setsockopt(zmq.RCVHWM, low_power.sized(FEED_HWM, FEED_HWM_LOW_POWER))
        self.feed.setsockopt(zmq.SUBSCRIBE, b"")
        self.feed.connect(addresses.endpoint(self.spec.run_dir, addresses.CHANGES))
        self.local = self.ctx.socket(zmq.DEALER)  # commands into the local broker
        self.local.setsockopt(zmq.LINGER, 0)
        self.local.setsockopt(zmq.IDENTITY, b"uplink")
        self.local.connect(addresses.endpoint(self.spec.run_dir, addresses.BROKER))
        self.control = AsyncRpcClient(self.ctx, addresses.endpoint(self.spec.run_dir,
                                                                   addresses.CONTROL))

    def _set_state(self, state: str, reason: str = "") -> None:
        self.linkstate.set(f"link to core {self.core}", state, reason)

    # -- local changes -> buffer -----------------------------------------------------
    def _on_feed(self) -> None:
        """Commit every change batch to the buffer; one transaction per drain of at most
        DRAIN_MAX messages (then the loop runs others and comes back)."""
        if self.store_retry is not None:
            return  # a write found the buffer locked: the retry reads on
        if self.unstored and not self._store(self.unstored):
            return
        items: list[list[Any]] = []
        feed = self.feed
        for _ in range(DRAIN_MAX):
            if not feed.get(zmq.EVENTS) & zmq.POLLIN:  # asked, not raised: cheaper
                break
            self._take(feed.recv_multipart(zmq.NOBLOCK), items)
        else:
            asyncio.get_running_loop().call_soon(self._on_feed)
        if items:
            self._store(items)

    def _store(self, items: list[list[Any]]) -> bool:
        """Commit ``items`` to the buffer and send them if the link is live. A write
        that waited past SQLite's busy timeout (a WAL checkpoint on a slow or busy
        disk) keeps them in memory (``unstored``, one drain at most: nothing more is
        read from the feed meanwhile) and is tried again in ``STORE_RETRY_S``, before
        anything newer: a datapoint taken from the feed is never dropped."""
        try:
            first, chunk = self.buffer.append(items)
        except sqlite3.OperationalError as exc:
            if not self.unstored:
                log.warning("buffer write failed (%s): %d datapoints held in memory, "
                            "tried again", exc, len(items))
            self.unstored = items
            self.store_retry = asyncio.get_running_loop().call_later(
                STORE_RETRY_S, self._retry_store)
            return False
        self.unstored = []
        if self.welcomed and self.sent_upto == first - 1 \
                and self.sent_upto - self.buffer.acked < wire.WINDOW \
                and self._send_chunk(first, len(items), chunk):
            return True  # live: sent as committed, without reading it back
        self._wake.set()
        return True

    def _retry_store(self) -> None:
        self.store_retry = None
        self._on_feed()

    @staticmethod
    def _take(frames: Any, items: list[list[Any]]) -> None:
        try:
            prefix = frames[0].decode()
            for item in protocol.unpack(frames[1]):
                items.append([prefix + item[0], *item[1:6]])
        except (ValueError, IndexError, TypeError, UnicodeDecodeError):
            log.warning("malformed change message skipped")

    # -- buffer -> core --------------------------------------------------------------
    async def _send_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.welcomed and self.sent_upto - self.buffer.acked < wire.WINDOW:
                got = self.buffer.read(self.sent_upto, wire.CHUNK_MAX)
                if got is None:
                    break
                if not self._send_chunk(*got):
                    break  # not connected (IMMEDIATE) or its queue is full

    def _send_chunk(self, first: int, n: int, chunk: bytes) -> bool:
        head = protocol.pack({"e": self.buffer.epoch, "s": first})
        if self.dialer is None or not wire.try_send(self.dialer.sock, [wire.DATA, head, chunk]):
            return False
        self.sent_upto = first + n - 1
        self.sent_total += n
        return True

    async def _flush_loop(self) -> None:
        """Delete what the core acknowledged, every ``FLUSH_S``; a delete that found the
        buffer locked (see :meth:`_store`) is simply done at a later tick."""
        while True:
            await asyncio.sleep(FLUSH_S)
            try:
                self.buffer.flush()
            except sqlite3.OperationalError as exc:
                log.warning("buffer clean-up deferred: %s", exc)

    # -- core -> us ------------------------------------------------------------------
    async def _recv_loop(self, dialer: Dialer) -> None:
        async for kind, body, frames in dialer.messages():
            if kind == wire.REFUSED and body.get("standby"):
                self.standby_refused = True
            else:
                self.active_heard = time.monotonic()
            if kind == wire.ACK:
                self.buffer.ack(int(body["acked"]))
                if body.get("rewind"):  # the core missed a message: resend from there
                    self.sent_upto = max(self.buffer.acked, min(int(body["acked"]),
                                                                self.buffer.last_seq))
                if self.sent_upto < self.buffer.last_seq:  # live: all sent, nothing to read
                    self._wake.set()
            elif kind == wire.PONG:
                self.rtt_ms = round((time.monotonic() - float(body["t"])) * 1000, 2)
            elif kind == wire.CMD:
                if self._fenced(dialer, frames):
                    continue
                self._commands(body)
            elif kind == wire.CTL:
                asyncio.get_running_loop().create_task(self._instance_command(dialer, body))
            elif kind == wire.WELCOME:
                self._welcome(body)
            elif kind == wire.REFUSED:
                self.welcomed = False
                self._set_state("refused", str(body.get("reason")))

    def _fenced(self, dialer: Dialer, frames: list[bytes]) -> bool:
        """HA: refuse commands of a core whose epoch is below the highest seen."""
        try:
            epoch = int(protocol.unpack(frames[2])["ha_epoch"]) if len(frames) > 2 else 0
        except (ValueError, KeyError, TypeError):
            epoch = 0
        if self.fence.see(epoch):
            return False
        self.fence.refused += 1
        log.warning("refused commands of stale core epoch %d (seen %d)", epoch,
                    self.fence.epoch)
        dialer.send(wire.FENCED, {"reason": "stale_epoch", "epoch": self.fence.epoch,
                                  "refused": epoch})
        return True

    def _welcome(self, body: dict[str, Any]) -> None:
        self.fence.see(int(body.get("ha_epoch") or 0))
        self.failed_tries = 0
        acked = int(body.get("acked", 0))
        self.buffer.ack(acked)
        self.sent_upto = max(self.buffer.acked, min(acked, self.buffer.last_seq))
        self.welcomed = True
        self._set_state("connected", f"as {body.get('id')}, core has up to seq {acked}")
        self._wake.set()

    def _commands(self, items: list[list[Any]]) -> None:
        """Commands from the core for ``<instance>.<path>``: into the local broker."""
        cmds = [[str(i[0]), i[1]] for i in items if isinstance(i, list | tuple) and len(i) >= 2]
        self.cmds_in += len(cmds)
        if cmds:
            wire.try_send(self.local, [protocol.CMD, protocol.pack(cmds)])

    async def _instance_command(self, dialer: Dialer, body: dict[str, Any]) -> None:
        cmd, args = body.get("cmd"), body.get("args") or {}
        reply: dict[str, Any] = {"id": body.get("id"), "ok": False}
        if cmd not in INSTANCE_CMDS:
            reply.update(error=f"{cmd!r} is not allowed over the link", code="refused")
        else:
            try:
                reply.update(ok=True, result=await self.control.call(cmd, **args))
            except RpcError as exc:
                reply.update(error=str(exc), code=exc.code)
        dialer.send(wire.RESULT, reply)

    # -- link health -----------------------------------------------------------------
    async def _monitor_loop(self, dialer: Dialer) -> None:
        async for event in dialer.events():
            kind = event["event"]
            if kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.handshaken = True
                self._set_state("handshake", "waiting for the core's welcome")
                self._hello()
            elif kind == zmq.EVENT_DISCONNECTED:
                self.welcomed = self.handshaken = False
                self.sent_upto = self.buffer.acked  # resend what was not acknowledged
                if self.linkstate.state not in ("refused", "wrong_key"):  # those say more
                    self._set_state("offline", "link lost; reconnecting")
            elif kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self.welcomed = False
                self._set_state("refused", "the core refused our key (revoked?)")
            elif event["value"] == errno.EAGAIN:  # no answer within HANDSHAKE_IVL
                self.welcomed = False
                self._set_state("offline", "the core does not answer the handshake")
            else:  # the core closed the handshake: it could not open our CURVE hello
                self.welcomed = False
                self._set_state("wrong_key", "CURVE handshake failed: the core does not "
                                "hold the key we pinned (or is not an edgeos core)")

    def _hello(self) -> None:
        hello = {"id": self.sat_id, "epoch": self.buffer.epoch, "version": "1",
                 "last_seq": self.buffer.last_seq, "acked": self.buffer.acked,
                 "lost_s": round(time.monotonic() - self.active_heard, 2),
                 "failed_tries": self.failed_tries}
        if self.dialer is not None:
            self.dialer.send(wire.HELLO, hello)

    async def _ping_loop(self) -> None:
        """Once a second: a PING on a live link, or the HELLO again while the core has
        not admitted us (an admin may have trusted our key meanwhile)."""
        while True:
            await asyncio.sleep(wire.PING_S)
            if self.handshaken and not self.welcomed:
                self._hello()
            elif self.welcomed:
                ping = {"t": time.monotonic(), "backlog": self.buffer.backlog,
                        "rtt_ms": self.rtt_ms, "overflow": self.buffer.overflow,
                        "stats": await self._stats()}
                if self.dialer is not None:
                    self.dialer.send(wire.PING, ping)

    async def _stats(self) -> list[dict[str, Any]]:
        """This satellite's instances with their live figures, for the core's status."""
        try:
            status = await self.control.call("status", timeout=0.5)
        except RpcError:
            return []
        return [{k: row.get(k) for k in STAT_KEYS} for row in status["instances"]]

    def counters(self) -> dict[str, Any]:
        now = time.monotonic()
        t0, out0, in0 = self._rate_mark
        dt = max(now - t0, 1e-3)
        self._rate_mark = (now, self.sent_total, self.cmds_in)
        return {"pps_out": round((self.sent_total - out0) / dt, 1),
                "pps_in": round((self.cmds_in - in0) / dt, 1),
                "out_total": self.sent_total, "in_total": self.cmds_in,
                "dropped": self.buffer.overflow,
                "last_error": self.linkstate.reason or None,
                "bus": {"state": self.linkstate.state, "reason": self.linkstate.reason,
                        "core": self.core,
                        "backlog": self.buffer.backlog, "acked": self.buffer.acked,
                        "last_seq": self.buffer.last_seq, "overflow": self.buffer.overflow,
                        "buffer_bytes": self.buffer.size, "rtt_ms": self.rtt_ms,
                        "epoch": self.buffer.epoch, "ha_epoch": self.fence.epoch,
                        "stale_refused": self.fence.refused}}

    # -- the core's key ----------------------------------------------------------------
    async def _settle_core_key(self) -> None:
        """First use: learn the core's key and pin it. Pinned: refuse (loudly, and check
        again every few seconds) while the core announces another key."""
        while True:
            if self.core_key is not None and not self.tofu:
                return  # given with --core-key
            announced = await ask_key(self.ctx, self.key_service, "announced core key")
            if self.core_key is None:
                if announced is not None:
                    keys.pin_core(self.spec.data_dir, announced)
                    log.warning("pinned the core key %s (first use) in %s",
                                announced.decode(), keys.keys_dir(self.spec.data_dir))
                    self.core_key = announced
                    return
                self._set_state("no_core_key", f"waiting for the core at "
                                f"{self.key_service} to announce its key (first use)")
            elif announced is not None and announced != self.core_key:
                self._set_state("wrong_key", f"the core at {self.core} presents key "
                                f"{announced.decode()[:8]}..., not the pinned "
                                f"{self.core_key.decode()[:8]}...: refusing to send "
                                "(remove keys/core.pub to pin another core)")
            else:
                return
            await asyncio.sleep(KEY_RETRY_S)

    def _set_core(self, host: str, port: int) -> None:
        self.core = wire.tcp(host, port)
        self.key_service = wire.tcp(host, wire.key_port(port))

    async def _discover(self) -> None:
        """No --core-host: browse mDNS for the core whose key we pinned (or, on first
        use, the first one; its key service then tells the key that gets pinned)."""
        from edgeos.ipc.satellite import mdns

        fingerprint = None if self.core_key is None else keys.fingerprint(self.core_key)
        self._set_state("discovering", f"browsing mDNS on {', '.join(self.mdns)} for "
                        f"{'the core with key ' + fingerprint if fingerprint else 'a core'}")
        while True:
            try:
                found = await mdns.find_core(self.mdns, fingerprint)
                break
            except OSError as exc:  # the interface went away meanwhile: try again
                self._set_state("discovering", f"mDNS on {', '.join(self.mdns)} failed: "
                                f"{exc}; retrying")
                await asyncio.sleep(KEY_RETRY_S)
        self._set_core(found.host, found.port)

    async def _link(self) -> None:
        if not self.core:
            await self._discover()
        await self._settle_core_key()
        while True:
            assert self.core_key is not None
            dialer = self.dialer = Dialer(self.ctx, self.spec.data_dir, self.core,
                                          self.core_key)
            loops = [self._recv_loop(dialer), self._monitor_loop(dialer)]
            if len(self.cores) > 1:
                loops.append(self._while_welcomed())
            tasks = [asyncio.create_task(c) for c in loops]
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            raise_failed(done)
            self._next_core()

    async def _while_welcomed(self) -> None:
        """HA: a core that does not welcome us within SWITCH_S (down, or a standby that
        refuses) is left for the next one in the list."""
        while True:
            await asyncio.sleep(SWITCH_S)
            if not self.welcomed:
                return

    def _next_core(self) -> None:
        assert self.dialer is not None
        if not self.standby_refused and self.active_heard < self.dialed_at:
            self.failed_tries += 1  # it said nothing: down, or cut from us
        self.dialer.close()
        self.dialer = None
        self.dialed_at, self.standby_refused = time.monotonic(), False
        self.welcomed = self.handshaken = False
        self.sent_upto = self.buffer.acked  # resend what the last core did not acknowledge
        self.core_i = (self.core_i + 1) % len(self.cores)
        host, port, key = self.cores[self.core_i]
        self.core = wire.tcp(host, int(port))
        self.core_key = key.encode("ascii")
        self._set_state("connecting", f"trying core {host}:{port}")

    # -- lifecycle -------------------------------------------------------------------
    async def main(self) -> int:
        loop = asyncio.get_running_loop()
        self.link.hello()
        self._open()
        loop.add_reader(self.feed.getsockopt(zmq.FD), self._on_feed)
        loop.call_soon(self._on_feed)
        self.link.ready()
        log.info("uplink %s -> %s: %d datapoints buffered (epoch %s)", self.sat_id, self.core,
                 self.buffer.backlog, self.buffer.epoch)
        done = await run_until_stopped((
            self._send_loop(), self._link(), self._ping_loop(), self._flush_loop(),
            self.link.heartbeat_loop(self.counters)))
        loop.remove_reader(self.feed.getsockopt(zmq.FD))
        if self.store_retry is not None:
            self.store_retry.cancel()
        if self.unstored:  # last try (the busy timeout again); a failure is logged
            self.buffer.append(self.unstored)
        self.buffer.close()
        self.control.close()
        if self.dialer is not None:
            self.dialer.close()
        for sock in (self.feed, self.local):
            sock.close(0)
        self.link.close(0)
        self.ctx.term()
        raise_failed(done)
        return 0
