"""Login, logout, the session, and the two HTML entry pages."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import tornado.web
from edgeos.admin_ui.handlers.base import SECURITY_HEADERS, ApiError, ApiHandler, authenticate
from edgeos.admin_ui.sessions import SESSION_COOKIE

STATIC = Path(__file__).resolve().parent.parent / "static"

LOGIN_BODY = {
    "type": "object",
    "required": ["username", "password"],
    "additionalProperties": False,
    "properties": {"username": {"type": "string", "minLength": 1, "maxLength": 64},
                   "password": {"type": "string", "minLength": 1, "maxLength": 1024}},
}


class Login(ApiHandler):
    public = True
    tag = "auth"
    bodies = {"POST": LOGIN_BODY}

    async def post(self) -> None:
        """Log in with user name and password: sets the session cookie, returns the CSRF
        token for state-changing requests. Failed attempts are rate limited (429)."""
        body = self.json_body()
        user, client = body["username"], self.request.remote_ip or "?"
        wait = self.edge.limiter.retry_after(client, user)
        if wait > 0:
            raise ApiError(429, "too many failed logins; try again later",
                           {"retry_after_s": math.ceil(wait)},
                           headers={"Retry-After": str(math.ceil(wait))})
        loop = asyncio.get_running_loop()  # scrypt takes tens of ms: keep the loop free
        principal = await loop.run_in_executor(None, self.edge.auth.check_password, user,
                                               body["password"])
        if principal is None:
            self.edge.limiter.failed(client, user)
            raise ApiError(401, "wrong user name or password")
        self.edge.limiter.succeeded(client, user)
        session = self.edge.sessions.create(principal.name, principal.role, principal.generation)
        self.set_cookie(SESSION_COOKIE, session.id, path="/", httponly=True,
                        samesite="Strict", secure=self.edge.tls)
        self.send({"user": session.user, "role": session.role, "csrf": session.csrf})


class Logout(ApiHandler):
    tag = "auth"
    roles = {"POST": "viewer"}

    async def post(self) -> None:
        """End the session and clear its cookie."""
        if self.session is not None:
            self.edge.sessions.end(self.session.id)
            self.edge.hub.recheck()  # its live sockets close
        self.clear_cookie(SESSION_COOKIE, path="/")
        self.send({"logged_out": True})


class WhoAmI(ApiHandler):
    tag = "auth"

    async def get(self) -> None:
        """Who is logged in, the role, and (for a browser session) the CSRF token."""
        assert self.principal is not None
        self.send({"user": self.principal.name, "role": self.principal.role,
                   "kind": self.principal.kind,
                   "csrf": self.session.csrf if self.session else None})


class Page(tornado.web.RequestHandler):
    """An HTML entry page; ``/`` sends visitors without a session to ``/login``."""

    def initialize(self, page: str, login_required: bool) -> None:
        self.page = page
        self.login_required = login_required

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)
        self.set_header("Cache-Control", "no-store")

    def get(self) -> None:
        if self.login_required and authenticate(self) is None:
            self.redirect("/login")
            return
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish((STATIC / self.page).read_bytes())


class Static(tornado.web.StaticFileHandler):
    """The front end's files, with the same security headers as the pages."""

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)
