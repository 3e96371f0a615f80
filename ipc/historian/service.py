"""The historian process: hears changes and instance figures, writes them once a second.

The change feed is a plain SUB socket read when its fd signals and drained without
awaiting (like the broker's inbound socket), so ingest costs no future per message,
and at most once per ``READ_PACE_S``: a change after a quiet spell is read at once,
while under traffic the messages of each 0.1 s are read in one wake-up, not one each
(at 10,000 changes/s in 100 messages a second that halved the historian's loop CPU,
4.5 to 2.4 % of a core here; the rows are written once a second anyway).
Rows collect in memory and go to SQLite in one transaction per second (or earlier
when many are waiting); a kill -9 therefore loses at most the last second. SQLite
runs in one worker thread (it releases the GIL while it works), one operation at a
time, so decoding the next changes overlaps with writing the last ones and heartbeats
never wait for the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio
from edgeos.ipc import addresses, protocol
from edgeos.ipc.changes import MIRRORED
from edgeos.ipc.child import InstanceSpec, SupervisorLink, stop_signalled
from edgeos.ipc.historian.policy import Policy, as_number
from edgeos.ipc.historian.settings import Settings
from edgeos.ipc.historian.store import Batch, HistoryStore, is_corrupt

log = logging.getLogger("historian")

FLUSH_S = 1.0
FLUSH_EARLY_ROWS = 50_000  # a burst is written before the second is over (bounds memory)
DRAIN_MAX = 32  # messages (batches of up to ~1000 changes) per wake-up: the loop stays responsive
READ_PACE_S = 0.1  # the feed is read at most this often: a wake-up per message cost more
EVENTS, POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)
# Rows waiting for the writer. Beyond this the feed waits in the socket (RCVHWM messages,
# then the broker drops for this subscriber), so a writer that falls behind cannot grow
# the historian's memory without bound.
MAX_PENDING_ROWS = 250_000
RCVHWM = 10_000
STAT_FIELDS = ("cpu_percent", "memory_mb", "pps_in", "pps_out")  # order of a figures row
FIGURES = b"figures"


def now_ms() -> int:
    return int(time.time() * 1000)


class Historian:
    def __init__(self, spec: InstanceSpec) -> None:
        self.spec = spec
        self.settings = Settings.from_dict(spec.extra.get("history"))
        self.ctx = zmq.asyncio.Context()
        self.link = SupervisorLink(self.ctx, spec)
        self.rows: list[tuple[int, int, float]] = []
        self.wake = asyncio.Event()
        self.db_lock = asyncio.Lock()
        # one thread for every database call: they run one after the other in the order
        # they were asked for, even when a task awaiting one is cancelled at shutdown
        self.db = ThreadPoolExecutor(1, thread_name_prefix="history-db")
        self._rate = (time.monotonic(), 0)
        self.pps = 0.0
        self.paused = False  # reading stopped at MAX_PENDING_ROWS until the writer takes them
        self._next_read = 0.0  # event-loop time before which a signal of the feed waits
        self._resume_at: asyncio.TimerHandle | None = None  # listening again then
        self._fd = -1

    # -- ingest --------------------------------------------------------------------------
    def listen(self) -> None:
        """Read the change feed from now on, when its fd signals."""
        loop = asyncio.get_running_loop()
        self._fd = self.changes.getsockopt(zmq.FD)
        loop.add_reader(self._fd, self._on_readable)
        loop.call_soon(self._drain)  # what came before

    def stop_listening(self) -> None:
        """No more reading when the fd signals; what the feed holds now is read (the
        pace may have left up to ``READ_PACE_S`` of changes there), up to the rows cap."""
        asyncio.get_running_loop().remove_reader(self._fd)
        if self._resume_at is not None:
            self._resume_at.cancel()
            self._resume_at = None
        while self._read():
            pass

    def _on_readable(self) -> None:
        """The feed's fd signalled: read now, or once ``READ_PACE_S`` since the last read
        is over, not listening meanwhile (zmq's fd stays readable until it is read).
        A message after a quiet spell is read at once; under traffic the messages of
        each ``READ_PACE_S`` are read in one wake-up instead of one wake-up each."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_read:
            loop.remove_reader(self._fd)
            self._resume_at = loop.call_at(self._next_read, self._resume)
            return
        self._drain()

    def _resume(self) -> None:
        self._resume_at = None
        asyncio.get_running_loop().add_reader(self._fd, self._on_readable)
        self._drain()  # what came meanwhile: its signal was before add_reader

    def _drain(self) -> None:
        self._next_read = asyncio.get_running_loop().time() + READ_PACE_S
        if self._read():
            asyncio.get_running_loop().call_soon(self._drain)  # more may be queued

    def _read(self) -> bool:
        """Read up to ``DRAIN_MAX`` messages of the feed into rows; True when it stopped
        at that limit (more may be queued)."""
        sock = self.changes
        accept = self.policy.accept
        rows = self.rows
        for _ in range(DRAIN_MAX):
            if len(rows) >= MAX_PENDING_ROWS:
                self.paused = True
                self.wake.set()
                return False  # flush_loop reads on once the writer has taken them
            if not sock.getsockopt(EVENTS) & POLLIN:  # (an Again raised per read was dear)
                return False
            frames = sock.recv_multipart(zmq.NOBLOCK, copy=True)
            try:
                batch = protocol.unpack_batch(frames[1])
                accept(frames[0].decode().removeprefix(MIRRORED), batch, rows)
            except (ValueError, IndexError, TypeError, UnicodeDecodeError):
                self.store.count("malformed")
        if len(rows) >= FLUSH_EARLY_ROWS:
            self.wake.set()
        return True

    async def read_stats(self) -> None:
        """Instance CPU, RAM and rates from the supervisor's 1 Hz ``figures`` events
        (``[id, cpu_percent, memory_mb, pps_in, pps_out]`` per instance with a process:
        supervisor/arbiter.py ``Arbiter.figures``)."""
        sub = self.ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.connect(addresses.endpoint(self.spec.run_dir, addresses.EVENTS))
        sub.setsockopt(zmq.SUBSCRIBE, FIGURES)
        try:
            while True:
                topic, body = await sub.recv_multipart()
                if topic != FIGURES:
                    continue
                try:
                    ts = now_ms()
                    for row in protocol.unpack(body)[:10_000]:
                        for name, raw in zip(STAT_FIELDS, row[1:], strict=False):
                            value = as_number(raw)
                            if value is not None:
                                sid = self.store.series_id(f"@{row[0]}.{name}", "stat")
                                self.rows.append((sid, ts, value))
                except (ValueError, TypeError, KeyError, IndexError):
                    self.store.count("malformed")
        finally:
            sub.close(0)

    # -- writing -------------------------------------------------------------------------
    async def flush(self) -> None:
        rows, self.rows = self.rows, []
        ts = now_ms()
        self.policy.due(ts, rows)
        batch = Batch(rows, self.settings.rollup_ms)  # here: the writer thread is busier
        async with self.db_lock:
            series = self.store.take_series()
            try:
                await asyncio.get_running_loop().run_in_executor(
                    self.db, self.store.write, batch, ts, series)
            except sqlite3.DatabaseError as exc:
                self._on_db_error(exc, batch.count)

    def _on_db_error(self, exc: sqlite3.DatabaseError, lost: int) -> None:
        if is_corrupt(exc):
            self.store.recover(exc)
            self.policy.forget_series()
        else:  # a full disk, an I/O error: keep running, count what could not be stored
            log.error("writing history failed: %s (%d values lost)", exc, lost)
        self.store.count("lost", lost)

    async def flush_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), FLUSH_S)
            self.wake.clear()
            await self.flush()
            if self.paused:
                self.paused = False
                self._drain()

    async def maintenance_loop(self) -> None:
        """Retention once per ``maintenance_s`` (and once at start)."""
        while True:
            async with self.db_lock:
                try:
                    expired = await asyncio.get_running_loop().run_in_executor(
                        self.db, self.store.expire, now_ms())
                    if expired:
                        log.info("retention: %d old rows deleted", expired)
                except sqlite3.DatabaseError as exc:
                    self._on_db_error(exc, 0)
            await asyncio.sleep(self.settings.maintenance_s)

    def counters(self) -> dict[str, Any]:
        t, n = self._rate
        now = time.monotonic()
        total = self.policy.counters["changes"]
        if now - t >= 1.0:
            self.pps = (total - n) / (now - t)
            self._rate = (now, total)
        dropped = self.store.counters.get("lost", 0) + self.policy.counters["series_refused"]
        return {**self.policy.counters, **self.store.counters, "pps_in": round(self.pps, 1),
                "in_total": total, "series": len(self.store.ids),
                "pending": len(self.rows), "dropped": dropped}  # shown by edgectl status

    # -- lifecycle -----------------------------------------------------------------------
    async def main(self) -> int:
        self.link.report_loop_errors("historian event loop")
        os.umask(0o077)  # history.db and its -wal/-shm: 0600
        self.link.hello()
        self.store = HistoryStore(Path(self.spec.data_dir), self.settings)
        self.policy = Policy(self.settings, self.store.series_id)
        self.changes = zmq.Socket(self.ctx, zmq.SUB)
        self.changes.setsockopt(zmq.LINGER, 0)
        self.changes.setsockopt(zmq.RCVHWM, RCVHWM)
        self.changes.connect(addresses.endpoint(self.spec.run_dir, addresses.CHANGES))
        self.changes.setsockopt(zmq.SUBSCRIBE, b"")
        self.listen()
        tasks = [asyncio.create_task(self.flush_loop()),
                 asyncio.create_task(self.maintenance_loop()),
                 asyncio.create_task(self.link.heartbeat_loop(  # (totals of traffic)
                     self.counters, ride_along=frozenset({"changes", "filtered", "recorded"})))]
        if self.settings.instances_enabled:
            tasks.append(asyncio.create_task(self.read_stats()))
        log.info("historian up: %s, %d series", self.store.path, len(self.store.ids))
        self.link.ready()
        await stop_signalled()
        self.stop_listening()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.policy.flush_all(self.rows)
        await self.flush()
        self.db.shutdown(wait=True)
        self.store.close()
        self.changes.close(0)
        self.link.close()
        self.ctx.destroy(linger=0)
        return 0
