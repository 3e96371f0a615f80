"""One subscription to the supervisor's events feed, fanned out to the live sockets.

The supervisor publishes ``stats`` (every instance, 1 Hz), ``state``, ``mode``,
``error`` and ``log.<id>``. The hub keeps the latest stats and a short history per
instance (for the sparklines a page shows as soon as it opens), encodes each message
once and hands the same text to every client, whatever the number of browsers.

The full ``stats`` cost the supervisor a ``/proc`` read of every process and a status
row per instance each second (issue 16), so the hub subscribes to them only while
some live socket wants them (:meth:`Hub.follow`: a page that shows them, in a tab
that is not hidden). Meanwhile it keeps the sparkline history from the lean
``figures`` rows the supervisor paces for the historian anyway (every row each 15 s,
a moved one within a second, docs/idle-pacing.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from pathlib import Path
from typing import Any, Protocol

import zmq
import zmq.asyncio
from edgeos.ipc import addresses, protocol, strictjson

log = logging.getLogger(__name__)

HISTORY_SAMPLES = 180  # 3 minutes at 1 Hz (more at the figures' pace)
HISTORY_KEEP_S = 180.0  # while unwatched, a history without a new row this long goes
TOPICS = (b"state", b"mode", b"error", b"log.", b"auth")
STATS = b"stats"  # every instance's status row, 1 Hz: only while a page shows them
FIGURES = b"figures"  # [id, cpu, ram, pps in, pps out], paced: meanwhile, for history
MAX_HISTORIES = 10_000  # instances with a history (the supervisor's rows are bounded too)


class Client(Protocol):
    """What the hub needs of a live socket."""

    follow_logs: str | None
    wants_stats: bool

    def push_stats(self, text: str) -> None: ...
    def push_event(self, text: str) -> None: ...
    def recheck(self) -> None: ...


def dumps(doc: Any) -> str:
    """Compact JSON for the live sockets; a non-finite number becomes null."""
    return strictjson.dumps(doc, separators=(",", ":"), ensure_ascii=False)


class Hub:
    def __init__(self, ctx: zmq.asyncio.Context, run_dir: Path | str) -> None:
        self.sock = ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 10_000)
        self.sock.connect(addresses.endpoint(run_dir, addresses.EVENTS))
        for topic in (*TOPICS, FIGURES):
            self.sock.setsockopt(zmq.SUBSCRIBE, topic)
        self.watched = False  # subscribed to the full stats (else to the figures)
        self.clients: set[Client] = set()
        self.instances: list[dict[str, Any]] = []
        self.stats_at = 0.0  # monotonic time of the last stats message
        self.mode = "normal"
        self.mode_record: dict[str, Any] = {}
        self.history: dict[str, deque[list[float]]] = {}
        self._seen: dict[str, float] = {}  # id -> monotonic time of its last figures row

    def join(self, client: Client) -> None:
        self.clients.add(client)
        self.follow()

    def leave(self, client: Client) -> None:
        self.clients.discard(client)
        self.follow()

    def follow(self) -> None:
        """Subscribe to the full stats while some client wants them, else to the lean
        figures (call it whenever a client comes, goes or changes its mind). The new
        subscription is made before the old one ends, so the history has no gap."""
        watched = any(client.wants_stats for client in self.clients)
        if watched == self.watched:
            return
        self.watched = watched
        on, off = (STATS, FIGURES) if watched else (FIGURES, STATS)
        self.sock.setsockopt(zmq.SUBSCRIBE, on)
        self.sock.setsockopt(zmq.UNSUBSCRIBE, off)

    def fresh(self, max_age_s: float = 3.0) -> bool:
        """True when the last stats are recent enough to answer from."""
        return bool(self.instances) and time.monotonic() - self.stats_at < max_age_s

    def panic_record(self) -> dict[str, Any] | None:
        """Who, since and why while in panic (from the mode event or the status at
        start), else None."""
        if self.mode != "panic":
            return None
        return {k: self.mode_record.get(k) for k in ("who", "since", "why")}

    def history_doc(self) -> dict[str, list[list[float]]]:
        """Per instance ``[ts_ms, cpu_percent, memory_mb, pps_in, pps_out]`` samples."""
        return {iid: list(samples) for iid, samples in self.history.items()}

    async def run(self) -> None:
        while True:
            try:
                topic, body = await self.sock.recv_multipart()
                msg = protocol.unpack(body)
            except (ValueError, zmq.ZMQError) as exc:
                log.debug("bad event: %s", exc)
                continue
            self.dispatch(topic.decode(errors="replace"), msg)

    def dispatch(self, topic: str, msg: Any) -> None:
        if topic == "stats" and isinstance(msg, list):
            self._on_stats(msg)
        elif topic == "figures" and isinstance(msg, list):
            if not self.watched:  # (while watched, the stats carry the same figures)
                self._on_figures(msg)
        elif topic == "mode" and isinstance(msg, dict):
            self.mode = str(msg.get("mode", self.mode))
            self.mode_record = msg
            self._broadcast({"type": "mode", **msg})
        elif topic in ("state", "error"):
            self._broadcast({"type": topic, **msg} if isinstance(msg, dict) else
                            {"type": topic, "data": msg})
        elif topic == "auth":  # a user or token changed: revoked sockets close now
            self.recheck()
        elif topic.startswith("log."):
            iid = topic[4:]
            text = None
            for client in list(self.clients):
                if client.follow_logs == iid:
                    text = text or dumps({"type": "log", "entry": msg})
                    client.push_event(text)

    def _on_stats(self, instances: list[dict[str, Any]]) -> None:
        self.instances = instances
        self.stats_at = time.monotonic()
        now = protocol.now_ms()
        seen = set()
        for inst in instances:
            iid = inst.get("id")
            seen.add(iid)
            samples = self.history.setdefault(iid, deque(maxlen=HISTORY_SAMPLES))
            samples.append([now, inst.get("cpu_percent") or 0, inst.get("memory_mb") or 0,
                            inst.get("pps_in") or 0, inst.get("pps_out") or 0])
        for gone in set(self.history) - seen:
            del self.history[gone]
        self._seen = dict.fromkeys(seen, time.monotonic())  # (see _on_figures)
        if self.clients:
            text = dumps({"type": "stats", "ts": now, "mode": self.mode,
                          "instances": instances})
            for client in list(self.clients):
                client.push_stats(text)

    def _on_figures(self, rows: list[Any]) -> None:
        """Sparkline samples from ``[id, cpu_percent, memory_mb, pps_in, pps_out]`` rows:
        all of them every 15 s, a moved one within a second; an instance without a row
        for ``HISTORY_KEEP_S`` (stopped or removed) loses its history."""
        now, ts = time.monotonic(), protocol.now_ms()
        for row in rows:
            if not (isinstance(row, list) and len(row) == 5 and isinstance(row[0], str)):
                continue
            self._seen[row[0]] = now
            samples = self.history.get(row[0])
            if samples is None:
                if len(self.history) >= MAX_HISTORIES:
                    continue
                samples = self.history[row[0]] = deque(maxlen=HISTORY_SAMPLES)
            samples.append([ts, *(v if isinstance(v, int | float) else 0 for v in row[1:])])
        for iid in [i for i, at in self._seen.items() if now - at > HISTORY_KEEP_S]:
            del self._seen[iid]
            self.history.pop(iid, None)

    def recheck(self) -> None:
        """Every live socket checks that its session or token still holds."""
        for client in list(self.clients):
            client.recheck()

    def _broadcast(self, doc: dict[str, Any]) -> None:
        if self.clients:
            text = dumps(doc)
            for client in list(self.clients):
                client.push_event(text)

    def close(self) -> None:
        with contextlib.suppress(zmq.ZMQError):
            self.sock.close(0)


async def keep_running(hub: Hub) -> None:
    """Run the hub, logging (not dying on) an unexpected error."""
    while True:
        try:
            await hub.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("event hub failed; restarting it")
            await asyncio.sleep(1)
