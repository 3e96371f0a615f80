"""Control commands for the admin UI's auth store: ``passwd`` and API tokens.

The store is a file in the data dir (:mod:`edgeos.admin_ui.auth`); the UI process re-reads it
when it changes, so these take effect at once. Only clients of the control socket
(0600, the daemon's user) can call them.
"""

from __future__ import annotations

from typing import Any

from edgeos.admin_ui.auth import ADMIN_USER, AuthError, AuthStore
from edgeos.ipc.rpc import BAD_REQUEST, NOT_FOUND, RpcError
from edgeos.supervisor.commands import Command


class AuthCommand(Command):
    """Base: the store in this daemon's data dir, refusals as bad requests."""

    def store(self) -> AuthStore:
        return AuthStore(self.arbiter.paths.data)

    @staticmethod
    def text(args: dict[str, Any], key: str) -> str:
        value = args.get(key)
        if not isinstance(value, str) or not value:
            raise RpcError(f"{key} is required", BAD_REQUEST)
        return value


class Passwd(AuthCommand):
    """Set the admin password (at least 8 characters); open sessions end."""

    name = "passwd"

    async def execute(self, args: dict[str, Any]) -> Any:
        username = args.get("username") or ADMIN_USER
        try:
            self.store().set_password(self.text(args, "password"), username,
                                      args.get("role") or "admin")
        except AuthError as exc:
            raise RpcError(str(exc), BAD_REQUEST) from None
        self.arbiter.audit("passwd", "edgectl", f"password of {username} set")
        return {"user": username, "changed": True}


class TokenCreate(AuthCommand):
    """Create an API token (role admin or viewer); the token is shown only this once."""

    name = "token_create"

    async def execute(self, args: dict[str, Any]) -> Any:
        try:
            created = self.store().create_token(args.get("role") or "admin", args.get("name"))
        except AuthError as exc:
            raise RpcError(str(exc), BAD_REQUEST) from None
        self.arbiter.audit("token_create", "edgectl", f"token {created['name']} "
                                                      f"({created['role']})")
        return created


class TokenList(AuthCommand):
    """List API tokens: name, role, created (never the tokens themselves)."""

    name = "token_list"

    async def execute(self, args: dict[str, Any]) -> Any:
        return self.store().list_tokens()


class TokenRevoke(AuthCommand):
    """Revoke an API token by name."""

    name = "token_revoke"

    async def execute(self, args: dict[str, Any]) -> Any:
        name = self.text(args, "name")
        if not self.store().revoke_token(name):
            raise RpcError(f"no token named {name!r}", NOT_FOUND)
        self.arbiter.audit("token_revoke", "edgectl", f"token {name}")
        return {"name": name, "revoked": True}
