"""Users of the admin UI (admin only) and every user's own password.

Changes go through the supervisor's ``user_*`` commands, the same ones ``edgectl
user`` uses, so there is one writer path and one audit trail; the UI's auth store
re-reads ``auth.json`` when it changed, so a removed user or a changed role or
password ends that user's sessions at the next request.
"""

from __future__ import annotations

import asyncio

from edgeos.admin_ui.handlers.base import ApiError, ApiHandler
from edgeos.admin_ui.sessions import SESSION_COOKIE
from edgeos.common.auth import MIN_PASSWORD_LEN, NAME_RE, ROLES

NAME = {"type": "string", "pattern": NAME_RE.pattern}
PASSWORD = {"type": "string", "minLength": MIN_PASSWORD_LEN, "maxLength": 1024}
ROLE = {"enum": list(ROLES)}


class Users(ApiHandler):
    tag = "users"
    roles = {"GET": "admin"}
    bodies = {"POST": {"type": "object", "additionalProperties": False,
                       "required": ["username", "password"],
                       "properties": {"username": NAME, "password": PASSWORD, "role": ROLE}}}

    async def get(self) -> None:
        """The users: name, role, when the password last changed (admin only)."""
        self.send(await self.rpc("user_list"))

    async def post(self) -> None:
        """Add a user (role viewer by default, operator or admin); 409 when the name is
        taken."""
        body = self.json_body()
        self.send(await self.rpc("user_add", username=body["username"],
                                 password=body["password"], role=body.get("role", "viewer"),
                                 who=self.who()), 201)


class UserItem(ApiHandler):
    tag = "users"
    path_params = {"name": NAME}
    bodies = {"PUT": {"type": "object", "additionalProperties": False, "minProperties": 1,
                      "properties": {"password": PASSWORD, "role": ROLE}}}

    async def put(self, name: str) -> None:
        """Set a user's role and/or password (their sessions end); the last admin
        cannot be demoted (409)."""
        body = self.json_body()
        self.send(await self.rpc("user_update", username=name, who=self.who(), **body))

    async def delete(self, name: str) -> None:
        """Remove a user (their sessions end); never the last admin (409)."""
        self.send(await self.rpc("user_remove", username=name, who=self.who()))


class AccountPassword(ApiHandler):
    tag = "users"
    roles = {"POST": "viewer"}
    bodies = {"POST": {"type": "object", "additionalProperties": False,
                       "required": ["current", "new"],
                       "properties": {"current": {"type": "string", "maxLength": 1024},
                                      "new": PASSWORD}}}

    async def post(self) -> None:
        """Change your own password (needs the current one). Your other sessions end;
        this one continues with a new session cookie and CSRF token."""
        assert self.principal is not None
        if self.principal.kind != "user":
            raise ApiError(403, "an API token has no password; log in as a user")
        body = self.json_body()
        client = self.request.remote_ip or "?"
        user = self.principal.name
        if self.edge.limiter.retry_after(client, user) > 0:
            raise ApiError(429, "too many failed attempts; try again later")
        loop = asyncio.get_running_loop()
        if await loop.run_in_executor(None, self.edge.auth.check_password, user,
                                      body["current"]) is None:
            self.edge.limiter.failed(client, user)
            raise ApiError(403, "the current password is wrong")
        await self.rpc("user_update", username=user, password=body["new"], who=user)
        principal = await loop.run_in_executor(None, self.edge.auth.check_password, user,
                                               body["new"])
        if self.session is not None:
            self.edge.sessions.end(self.session.id)
        if principal is None:  # changed again in between: log in anew
            raise ApiError(409, "the password changed meanwhile; log in again")
        session = self.edge.sessions.create(principal.name, principal.role,
                                            principal.generation)
        self.set_cookie(SESSION_COOKIE, session.id, path="/", httponly=True,
                        samesite="Strict", secure=self.edge.tls)
        self.send({"user": user, "changed": True, "csrf": session.csrf})
