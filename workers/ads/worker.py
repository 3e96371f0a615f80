"""The ads worker: a TwinCAT PLC's symbols as datapoints ``<id>.<symbol>``, over pyads.

On every (re)connect it uploads the symbol and data type tables, flattens structs and
arrays into dotted paths, publishes each selected leaf's metadata, reads every value once,
then keeps them current by ADS device notifications (one per top-level symbol, on change)
or by cyclic sum reads. A liveness check notices a PLC that went away; its points are then
published with quality ``bad`` and the link is rebuilt with exponential back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

from edgeos.workers.ads.connection import AdsLink, AdsTarget, AdsThread, Backoff, Inbox, LinkError
from edgeos.workers.ads.symbols import Block, Leaf, blocks, flatten, rules_from_config, select
from edgeos.workers.runtime import BadValue, DeviceError, ReadOnly, UnknownDatapoint, Worker


class AdsWorker(Worker):
    """One Beckhoff TwinCAT PLC (ADS over TCP)."""

    type_name = "ads"

    async def setup(self) -> None:
        cfg = self.config
        self.link = AdsLink(AdsTarget.from_config(cfg))
        self.thread = AdsThread(f"ads-{self.id}")
        self.rules = rules_from_config(cfg)
        self.cycle_ms = float(cfg["notify_cycle_ms"])
        self.check_s = float(cfg["check_interval_s"])
        self.poll_interval_s = float(cfg["poll_interval_s"])
        self.max_datapoints = int(cfg["max_datapoints"])
        self.backoff = Backoff(float(cfg["reconnect_min_s"]),
                               float(cfg["reconnect_max_s"]))
        self.inbox = Inbox(asyncio.get_running_loop(), self._on_notification)
        self.cache = Path(self.spec.data_dir) / "ads" / f"{self.id}.json"
        self.leaves: dict[str, Leaf] = {}  # lower-case path -> leaf, all the PLC has
        self.selected: list[Leaf] = []
        self.values: dict[str, Any] = {}
        self.raw: dict[str, bytes] = {}
        self.meta_sent: dict[str, dict[str, Any]] = {}
        self.notify_blocks: dict[tuple[int, int], Block] = {}
        self.poll_groups: dict[float, list[Block]] = {}
        self.connected = False
        self.marked_bad = False
        self.lost_reason: str | None = None
        self.session = 0  # bumped on every connect and loss: stale notifications are dropped
        self.reconnects = 0
        self.notifications = 0
        self._rate_mark = (time.monotonic(), 0, 0, 0.0)

    # -- main loop -------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            try:
                await self._connect()
                self.backoff.reset()
                await self._serve()
            except LinkError as exc:
                await self._lost(str(exc))
            await asyncio.sleep(self.backoff.next())

    async def _connect(self) -> None:
        await self.thread.call(self.link.open)
        symbol_count = await self._load_symbols()
        self.raw.clear()
        await self._read_blocks([b for bl in self.poll_groups.values() for b in bl]
                                + list(self.notify_blocks.values()))
        self.session += 1
        self.connected = True
        self.marked_bad = False
        self.lost_reason = None
        await self._subscribe()
        self.log.info("connected to %s: %d symbols, %d datapoints (%d notifications)",
                      self.link.target.net_id, symbol_count, len(self.selected),
                      len(self.notify_blocks))
        self._save_cache()

    async def _load_symbols(self) -> int:
        """Upload and flatten the symbol table; publish what changed of the metadata and
        group the selected leaves into notification and poll blocks."""
        symbols, types = await self.thread.call(self.link.upload)
        flat = flatten(symbols, types, self.max_datapoints)
        if flat.truncated:
            self.count_error(f"{self.id}: more than {self.max_datapoints} datapoints; "
                             "narrow 'symbols' or raise 'max_datapoints'")
        if flat.skipped:
            self.log.info("%d symbols of unknown type skipped, e.g. %s", len(flat.skipped),
                          ", ".join(flat.skipped[:5]))
        self.leaves = {leaf.path.lower(): leaf for leaf in flat.leaves}
        chosen = select(flat.leaves, self.rules)
        self.selected = [leaf for leaf, _ in chosen]
        for leaf, rule in chosen:
            self._meta(leaf, rule.mode, rule.poll_interval_s)
        groups = blocks(chosen)
        self.notify_blocks = {(b.index_group, b.start): b
                              for b in groups.get(("notify", 0.0), [])}
        self.poll_groups = {interval: bl for (mode, interval), bl in groups.items()
                            if mode == "poll"}
        return len(symbols)

    def _meta(self, leaf: Leaf, mode: str, poll_interval_s: float) -> None:
        meta = {**leaf.meta(), "mode": mode}
        if mode == "poll":
            meta["poll_interval_s"] = poll_interval_s
        if self.meta_sent.get(leaf.path) != meta:
            self.publish_meta(leaf.path, **meta)
            self.meta_sent[leaf.path] = meta

    async def _subscribe(self) -> None:
        """One on-change notification per notify block; blocks the PLC refuses (it ran
        out of notification handles) are polled instead."""
        session = self.session
        refused = await self.thread.call(
            self.link.add_notifications,
            [(b.index_group, b.start, b.size) for b in self.notify_blocks.values()],
            self.cycle_ms, lambda key, data: self.inbox.push(session, key, data))
        if not refused:
            return
        self.count_error(f"{self.id}: PLC refused {len(refused)} notifications "
                         f"({next(iter(refused.values()))}); polling them")
        moved = [self.notify_blocks.pop(key) for key in refused]
        self.poll_groups.setdefault(self.poll_interval_s, []).extend(moved)
        for block in moved:
            for leaf in block.leaves:
                self._meta(leaf, "poll", self.poll_interval_s)

    async def _serve(self) -> None:
        """Until the link fails: liveness checks and the poll groups."""
        tasks = [asyncio.create_task(self._watchdog())]
        tasks += [asyncio.create_task(self._poll(interval, bl))
                  for interval, bl in self.poll_groups.items()]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(self.check_s)
            await self.thread.call(self.link.read_state)

    async def _poll(self, interval: float, group: list[Block]) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at = max(next_at + interval, loop.time())
            await asyncio.sleep(next_at - loop.time())
            await self._read_blocks(group)

    async def _lost(self, reason: str) -> None:
        """Mark every point bad (never leave stale values looking good) and drop the link."""
        if self.connected:
            self.reconnects += 1
        self.connected = False
        self.session += 1
        if reason != self.lost_reason:  # one error per outage and cause, not per retry
            self.count_error(f"{self.id}: {reason}")
            self.lost_reason = reason
        else:
            self.log.debug("still no PLC: %s", reason)
        if not self.marked_bad:
            paths = [leaf.path for leaf in self.selected] or self._cached_paths()
            for path in paths:
                self.publish(path, self.values.get(path), quality="bad")
            self.marked_bad = True
        self.raw.clear()
        await self.thread.call(self.link.close)

    # -- values ----------------------------------------------------------------------
    async def _read_blocks(self, group: list[Block]) -> None:
        if not group:
            return
        results = await self.thread.call(
            self.link.sum_read, [(b.index_group, b.start, b.size) for b in group])
        for block, raw in zip(group, results, strict=True):
            if raw is None:
                self.count_error(f"{self.id}: PLC refused reading {block.leaves[0].symbol}")
                for leaf in block.leaves:
                    self.raw.pop(leaf.path, None)
                    self.publish(leaf.path, self.values.get(leaf.path), quality="bad")
            else:
                self._apply(block, raw)

    def _apply(self, block: Block, raw: bytes) -> None:
        """Publish the leaves of ``block`` whose bytes changed."""
        parts = [(block.leaves[0], raw)] if len(block.leaves) == 1 else block.parts(raw)
        for leaf, part in parts:
            if self.raw.get(leaf.path) == part:
                continue
            self.raw[leaf.path] = part
            value = self.values[leaf.path] = leaf.codec.decode(part)
            self.publish(leaf.path, value, unit=leaf.codec.unit)

    def _on_notification(self, session: int, key: tuple[int, int], data: bytes) -> None:
        if session != self.session or not self.connected:
            return  # from a link that is gone
        block = self.notify_blocks.get(key)
        if block is not None:
            self.notifications += 1
            self._apply(block, data)

    # -- writes ----------------------------------------------------------------------
    async def on_command(self, path: str, value: Any) -> None:
        leaf = self.leaves.get(path.lower())
        if not self.connected:
            raise DeviceError(f"{self.id}.{path}: PLC not connected, write dropped")
        if leaf is None:
            raise UnknownDatapoint(f"{self.id}.{path}: no such symbol in the PLC")
        if not leaf.writable:
            raise ReadOnly(f"{self.id}.{path} is read-only")
        try:
            data = leaf.codec.encode(value)
        except ValueError as exc:
            raise BadValue(f"{self.id}.{path} ({leaf.type_name}): {exc}") from None
        try:
            await self.thread.call(self.link.write, leaf.index_group, leaf.index_offset, data)
            raw = await self.thread.call(self.link.read, leaf.index_group, leaf.index_offset,
                                         leaf.codec.size)
        except LinkError as exc:
            raise DeviceError(f"{self.id}.{path}: write failed: {exc}") from None
        self.raw[leaf.path] = raw
        reported = self.values[leaf.path] = leaf.codec.decode(raw)
        self.publish(leaf.path, reported, unit=leaf.codec.unit)

    # -- lifecycle and figures -------------------------------------------------------
    async def teardown(self) -> None:
        """Stopped on purpose: the values are no longer watched, so mark them bad."""
        if not self.marked_bad:
            for leaf in self.selected:
                self.publish(leaf.path, self.values.get(leaf.path), quality="bad")
            self.marked_bad = True
        self.connected = False
        self.session += 1
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.thread.call(self.link.close), 1.5)
        self.thread.close()

    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        t0, notes0, req0, busy0 = self._rate_mark
        dt = max(now - t0, 1e-3)
        requests, busy = self.link.requests, self.link.busy_s
        self._rate_mark = (now, self.notifications, requests, busy)
        done = requests - req0
        return {"connected": self.connected, "last_error": self.runtime.last_error,
                "errors": self.runtime.errors, "reconnects": self.reconnects,
                "notifications_per_s": round((self.notifications - notes0) / dt, 1),
                "requests_per_s": round(done / dt, 1),
                "latency_ms": round((busy - busy0) / done * 1000, 2) if done else None,
                "symbols": len(self.leaves), "datapoints": len(self.selected),
                "packets_sent": requests, "packets_recv": requests + self.notifications}

    # -- the last symbol list, to mark points bad when a restart finds no PLC ----------
    def _save_cache(self) -> None:
        paths = [leaf.path for leaf in self.selected]
        if paths == self._cached_paths():
            return
        try:
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache.with_suffix(".tmp")
            tmp.write_text(json.dumps(paths))
            os.replace(tmp, self.cache)
        except OSError as exc:
            self.log.warning("cannot keep the symbol list in %s: %s", self.cache, exc)

    def _cached_paths(self) -> list[str]:
        try:
            paths = json.loads(self.cache.read_text())
        except (OSError, ValueError):
            return []
        return [p for p in paths if isinstance(p, str)] if isinstance(paths, list) else []
