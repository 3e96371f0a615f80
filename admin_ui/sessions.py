"""Browser sessions (in memory, in the UI process) and login rate limiting.

A session is a random id in an HttpOnly, SameSite=Strict cookie plus a CSRF token the
page sends back in ``X-CSRF-Token`` on every state-changing request. Sessions die on
logout, after ``idle_s`` without use, when the UI restarts, and when the user's
password changes (the session remembers the password generation it was made under).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass, field

SESSION_COOKIE = "edgeos_session"
CSRF_HEADER = "X-CSRF-Token"


@dataclass
class Session:
    id: str
    user: str
    role: str
    generation: str
    csrf: str
    created: float
    last_used: float


@dataclass
class SessionStore:
    idle_s: float = 12 * 3600
    max_sessions: int = 1000
    sessions: dict[str, Session] = field(default_factory=dict)

    def create(self, user: str, role: str, generation: str) -> Session:
        self._expire()
        if len(self.sessions) >= self.max_sessions:  # drop the least recently used
            oldest = min(self.sessions.values(), key=lambda s: s.last_used)
            del self.sessions[oldest.id]
        now = time.monotonic()
        session = Session(secrets.token_urlsafe(32), user, role, generation,
                          secrets.token_urlsafe(32), now, now)
        self.sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        session = self.sessions.get(session_id or "")
        if session is None:
            return None
        now = time.monotonic()
        if now - session.last_used > self.idle_s:
            del self.sessions[session.id]
            return None
        session.last_used = now
        return session

    def end(self, session_id: str | None) -> None:
        self.sessions.pop(session_id or "", None)

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [s.id for s in self.sessions.values() if now - s.last_used > self.idle_s]:
            del self.sessions[sid]


class LoginLimiter:
    """Failed logins per (client, user) and per client in a sliding window.

    After ``per_user`` failures for one user name, or ``per_client`` failures in all,
    that key is refused until the window has passed since its oldest failure. A
    success clears the (client, user) key only, so a guesser cannot reset the
    per-client count with a known account.
    """

    def __init__(self, per_user: int = 5, per_client: int = 20, window_s: float = 60.0) -> None:
        self.per_user = per_user
        self.per_client = per_client
        self.window_s = window_s
        self._fails: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        fails = self._fails.get(key)
        if fails is None:
            return deque()
        while fails and now - fails[0] > self.window_s:
            fails.popleft()
        if not fails:
            del self._fails[key]
        return fails

    def retry_after(self, client: str, user: str) -> float:
        """Seconds until this client may try this user again; 0 when allowed now."""
        now = time.monotonic()
        waits = [0.0]
        for key, limit in (((client, user), self.per_user), ((client, "*"), self.per_client)):
            fails = self._recent(key, now)
            if len(fails) >= limit:
                waits.append(self.window_s - (now - fails[0]))
        return max(waits)

    def failed(self, client: str, user: str) -> None:
        now = time.monotonic()
        for key in ((client, user), (client, "*")):
            self._fails.setdefault(key, deque()).append(now)

    def succeeded(self, client: str, user: str) -> None:
        self._fails.pop((client, user), None)
