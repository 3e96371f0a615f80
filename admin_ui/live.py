"""``/api/ws``: the live socket of a page.

Server -> page: ``hello`` (who, mode, sparkline history), ``stats`` every second,
``state``/``mode``/``error`` events, ``log`` lines of the instance the page follows,
and ``changes`` of the datapoint prefixes the page subscribed to.
Page -> server: ``{"op": "subscribe", "prefixes": [...]}`` (replaces the set; a page
only subscribes to what it shows) and ``{"op": "logs", "id": "<instance>" | null}``.

Each socket has one sender task that awaits every write, so a slow browser delays
only itself: stats are latest-wins, datapoint changes are merged per address and
flushed at most ``CHANGE_INTERVAL_S`` apart, events queue in a bounded deque.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import Any

import tornado.websocket
from edgeos.admin_ui.handlers.base import authenticate
from edgeos.admin_ui.hub import dumps
from edgeos.ipc.changes import ChangeFeed

log = logging.getLogger(__name__)

CHANGE_INTERVAL_S = 0.25
MAX_CHANGES_PER_MESSAGE = 2000
MAX_PREFIXES = 50
MAX_PREFIX_LEN = 512
EVENT_BACKLOG = 500


class LiveSocket(tornado.websocket.WebSocketHandler):
    """One page's live connection (cookie session or bearer token, read access)."""

    follow_logs: str | None = None

    def initialize(self) -> None:
        self.edge = self.settings["edge"]
        self.principal: Any = None
        self.follow_logs = None
        self._stats: str | None = None
        self._events: deque[str] = deque(maxlen=EVENT_BACKLOG)
        self._changes: dict[str, list[Any]] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._feed: ChangeFeed | None = None

    async def prepare(self) -> None:
        self.principal = authenticate(self)
        self._session = getattr(self, "session", None)
        header = self.request.headers.get("Authorization", "")
        self._token = header[7:].strip() if header[:7].lower() == "bearer " else None
        if self.principal is None:
            self.set_status(401)
            self.finish({"error": "authentication required", "detail": None})

    def open(self, *args: str, **kwargs: str) -> None:
        hub = self.edge.hub
        hub.clients.add(self)
        self._events.append(dumps({"type": "hello", "user": self.principal.label,
                                   "role": self.principal.role, "mode": hub.mode,
                                   "history": hub.history_doc()}))
        if hub.instances:
            self._stats = dumps({"type": "stats", "mode": hub.mode,
                                 "instances": hub.instances})
        self._tasks.append(asyncio.create_task(self._sender()))
        self._wake.set()

    # -- from the hub ----------------------------------------------------------------
    def push_stats(self, text: str) -> None:
        self._stats = text
        self._wake.set()

    def push_event(self, text: str) -> None:
        self._events.append(text)
        self._wake.set()

    # -- from the page ---------------------------------------------------------------
    def on_message(self, message: str | bytes) -> None:
        try:
            msg = json.loads(message)
            op = msg["op"]
        except (ValueError, KeyError, TypeError):
            self.push_event(dumps({"type": "problem", "detail": "bad message"}))
            return
        if op == "subscribe":
            self._subscribe(msg.get("prefixes"))
        elif op == "logs":
            iid = msg.get("id")
            self.follow_logs = iid if isinstance(iid, str) and iid else None
        else:
            self.push_event(dumps({"type": "problem", "detail": f"unknown op {op!r}"}))

    def _subscribe(self, prefixes: Any) -> None:
        if not isinstance(prefixes, list) or len(prefixes) > MAX_PREFIXES or not all(
                isinstance(p, str) and 0 < len(p) <= MAX_PREFIX_LEN for p in prefixes):
            self.push_event(dumps({"type": "problem", "detail":
                                   f"prefixes: a list of at most {MAX_PREFIXES} non-empty "
                                   "strings"}))
            return
        wanted = set(prefixes)
        if self._feed is None:
            if not wanted:
                return
            self._feed = ChangeFeed(self.edge.ctx, self.edge.run_dir, ())
            self._tasks.append(asyncio.create_task(self._read_changes(self._feed)))
        for prefix in self._feed.prefixes - wanted:
            self._feed.unsubscribe(prefix)
        for prefix in wanted - self._feed.prefixes:
            self._feed.subscribe(prefix)
        self._changes = {a: c for a, c in self._changes.items()
                         if any(a.startswith(p) for p in wanted)}

    async def _read_changes(self, feed: ChangeFeed) -> None:
        async for batch in feed.batches():
            for item in batch:
                self._changes[item[0]] = item[:6]
            self._wake.set()

    # -- to the page -----------------------------------------------------------------
    async def _sender(self) -> None:
        loop = asyncio.get_running_loop()
        last_changes = 0.0
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._events:
                    await self.write_message(self._events.popleft())
                if self._stats is not None:
                    text, self._stats = self._stats, None
                    await self.write_message(text)
                if self._changes:
                    wait = last_changes + CHANGE_INTERVAL_S - loop.time()
                    if wait > 0:
                        loop.call_later(wait, self._wake.set)
                        continue
                    items = list(self._changes.values())[:MAX_CHANGES_PER_MESSAGE]
                    for item in items:
                        del self._changes[item[0]]
                    await self.write_message(dumps({"type": "changes", "items": items}))
                    last_changes = loop.time()
                    if self._changes:
                        self._wake.set()
        except tornado.websocket.WebSocketClosedError:
            return

    def recheck(self) -> None:
        """Close at once when the session ended, the user's password or role changed,
        the user was removed, or the token was revoked."""
        auth = self.edge.auth
        if self._token is not None:
            now = auth.check_token(self._token)
            valid = now is not None and now.role == self.principal.role
        else:
            session = self._session
            valid = (session is not None and self.edge.sessions.get(session.id) is not None
                     and auth.generation(session.user) == session.generation)
        if not valid:
            self.close(4001, "session or token revoked")

    def on_close(self) -> None:
        self.edge.hub.clients.discard(self)
        for task in self._tasks:
            task.cancel()
        if self._feed is not None:
            with contextlib.suppress(Exception):
                self._feed.close()
