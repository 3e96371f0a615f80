"""``/api/ws``: the live socket of a page.

Server -> page: ``hello`` (who, mode, sparkline history), ``stats`` every second,
``state``/``mode``/``error`` events, ``log`` lines of the instance the page follows,
and ``changes`` of the datapoint prefixes the page subscribed to.
Page -> server: ``{"op": "subscribe", "prefixes": [...], "addresses": [...]}`` (replaces
the set; a page only subscribes to what it shows; ``addresses`` is optional: exact
datapoints, up to ``MAX_ADDRESSES``, matched by a set lookup, for a dashboard's
widgets), ``{"op": "logs", "id": "<instance>" | null}`` and ``{"op": "stats", "on":
true | false}`` (whether the page shows the 1 Hz stats: on until it says otherwise; the
hub stops the supervisor's full stats pass while no socket wants them, issue 16).

The credential the socket was opened with is checked again before every push: after
logout, a password change or a token's revocation the socket is closed with code
4401 (the page then goes to the login page), at the latest on the next 1 Hz stats.
Logout wakes every socket at once.

Each socket has one sender task that awaits every write, so a slow browser delays
only itself: stats are latest-wins, datapoint changes are merged per address and
flushed at most ``CHANGE_INTERVAL_S`` apart, events queue in a bounded deque.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

import tornado.websocket
from edgeos.admin_ui.handlers.base import authenticate
from edgeos.admin_ui.hub import dumps
from edgeos.ipc import strictjson
from edgeos.ipc.changes import ChangeFeed

log = logging.getLogger(__name__)

CHANGE_INTERVAL_S = 0.25
MAX_CHANGES_PER_MESSAGE = 2000
MAX_PREFIXES = 50
MAX_ADDRESSES = 2000
MAX_PREFIX_LEN = 512
EVENT_BACKLOG = 500
CLOSE_UNAUTHORIZED = 4401  # the page's cue to go to the login page


class LiveSocket(tornado.websocket.WebSocketHandler):
    """One page's live connection (cookie session or bearer token, read access)."""

    follow_logs: str | None = None
    wants_stats: bool = True

    def initialize(self) -> None:
        self.edge = self.settings["edge"]
        self.principal: Any = None
        self.follow_logs = None
        self.wants_stats = True
        self._stats: str | None = None
        self._events: deque[str] = deque(maxlen=EVENT_BACKLOG)
        self._changes: dict[str, list[Any]] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._feed: ChangeFeed | None = None
        self.session: Any = None
        self._token: str | None = None
        self._prefixes: tuple[str, ...] = ()
        self._addresses: frozenset[str] = frozenset()

    async def prepare(self) -> None:
        self.principal = authenticate(self)
        header = self.request.headers.get("Authorization", "")
        self._token = header[7:].strip() if header[:7].lower() == "bearer " else None
        if self.principal is None:
            self.set_status(401)
            self.finish({"error": "authentication required", "detail": None})

    def open(self, *args: str, **kwargs: str) -> None:
        hub = self.edge.hub
        hub.join(self)
        self._events.append(dumps({"type": "hello", "user": self.principal.label,
                                   "role": self.principal.role, "mode": hub.mode,
                                   "panic": hub.panic_record(),
                                   "history": hub.history_doc()}))
        if hub.fresh():  # (else the next stats come within a second of the join)
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

    def recheck(self) -> None:
        """Check the credential now (a session ended somewhere)."""
        self._wake.set()

    def still_allowed(self) -> bool:
        """The session or token the socket was opened with is still good (without
        counting as use of the session)."""
        auth = self.edge.auth
        if self._token is not None:  # revoked, or its role changed
            now = auth.check_token(self._token)
            return now is not None and now.role == self.principal.role
        session = self.edge.sessions.sessions.get(self.session.id if self.session else "")
        return session is not None and auth.generation(session.user) == session.generation

    # -- from the page ---------------------------------------------------------------
    def on_message(self, message: str | bytes) -> None:
        try:
            msg = strictjson.loads(message, max_depth=4)
            op = msg["op"]
        except (ValueError, KeyError, TypeError):
            self.push_event(dumps({"type": "problem", "detail": "bad message"}))
            return
        if op == "subscribe":
            self._subscribe(msg.get("prefixes"), msg.get("addresses", []))
        elif op == "logs":
            iid = msg.get("id")
            self.follow_logs = iid if isinstance(iid, str) and iid else None
        elif op == "stats":
            if not isinstance(msg.get("on"), bool):
                self.push_event(dumps({"type": "problem", "detail": "stats: 'on' must be "
                                       "true or false"}))
                return
            self.wants_stats = msg["on"]
            self.edge.hub.follow()
        else:
            self.push_event(dumps({"type": "problem", "detail": f"unknown op {op!r}"}))

    def _subscribe(self, prefixes: Any, addresses: Any) -> None:
        if not valid_names(prefixes, MAX_PREFIXES):
            self.push_event(dumps({"type": "problem", "detail":
                                   f"prefixes: a list of at most {MAX_PREFIXES} non-empty "
                                   "strings"}))
            return
        if not valid_names(addresses, MAX_ADDRESSES):
            self.push_event(dumps({"type": "problem", "detail":
                                   f"addresses: a list of at most {MAX_ADDRESSES} non-empty "
                                   "strings"}))
            return
        self._prefixes = tuple(set(prefixes))
        self._addresses = frozenset(addresses)
        # the feed filters by instance; exact addresses are matched here
        wanted = set(self._prefixes) | {a.split(".", 1)[0] + "." for a in self._addresses}
        if self._feed is None:
            if not wanted:
                return
            self._feed = ChangeFeed(self.edge.ctx, self.edge.run_dir, ())
            self._tasks.append(asyncio.create_task(self._read_changes(self._feed)))
        for prefix in self._feed.prefixes - wanted:
            self._feed.unsubscribe(prefix)
        for prefix in wanted - self._feed.prefixes:
            self._feed.subscribe(prefix)
        self._changes = {a: c for a, c in self._changes.items() if self._wanted(a)}

    def _wanted(self, address: str) -> bool:
        return address in self._addresses or address.startswith(self._prefixes)

    async def _read_changes(self, feed: ChangeFeed) -> None:
        async for batch in feed.batches():
            for item in batch:
                if self._wanted(item[0]):
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
                if not self.still_allowed():
                    self.close(CLOSE_UNAUTHORIZED, "session ended: log in again")
                    return
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

    def on_close(self) -> None:
        self.edge.hub.leave(self)
        for task in self._tasks:
            task.cancel()
        if self._feed is not None:
            with contextlib.suppress(Exception):
                self._feed.close()


def valid_names(names: Any, most: int) -> bool:
    """A list of at most ``most`` non-empty strings of bounded length."""
    return isinstance(names, list) and len(names) <= most and all(
        isinstance(p, str) and 0 < len(p) <= MAX_PREFIX_LEN for p in names)
