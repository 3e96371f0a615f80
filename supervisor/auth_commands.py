"""Control commands for the admin UI's auth store: ``passwd``, users and API tokens.

The store is a file in the data dir (:mod:`edgeos.common.auth`); the UI process re-reads it
when it changes, so these take effect at once. Only clients of the control socket
(0600, the daemon's user) can call them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from edgeos.common.auth import ADMIN_USER, ROLES, AuthError, AuthStore
from edgeos.ipc import protocol
from edgeos.ipc.commands import Arg
from edgeos.ipc.rpc import BAD_REQUEST, NOT_FOUND, REFUSED, RpcError
from edgeos.supervisor.commands import WHO, Command

USERNAME = Arg("username", required=True, help="the user's name", least=1, most=200)
PASSWORD = Arg("password", required=True, help="the new password", least=1, most=1024)


class AuthCommand(Command):
    """Base: the store in this daemon's data dir, refusals as bad requests. A command
    that ``edits`` the store is refused on a standby (the store is mirrored to it)."""

    edits: ClassVar[bool] = True

    def store(self) -> AuthStore:
        store = AuthStore(self.arbiter.paths.data)
        if self.edits:
            self.refuse_on_standby(store.path.name)
        return store

    def changed(self) -> None:
        """Tell the admin UI (events topic ``auth``): revoked live sockets close at once."""
        self.arbiter.publish("auth", {"ts": protocol.now_ms()})


class Passwd(AuthCommand):
    """Set the admin password (at least 8 characters); open sessions end. With no daemon
    running, edgectl writes it into the data dir's auth store (--data)."""

    name = "passwd"
    args = (PASSWORD, Arg("username", default=ADMIN_USER, help="whose", least=1, most=200),
            Arg("role", default="admin", choices=ROLES, help="the role if the user is new"))

    async def execute(self, args: dict[str, Any]) -> Any:
        username = args["username"]
        try:
            self.store().set_password(args["password"], username, args["role"])
        except AuthError as exc:
            raise RpcError(str(exc), BAD_REQUEST) from None
        self.arbiter.audit("passwd", "edgectl", f"password of {username} set")
        self.changed()
        return {"user": username, "changed": True}


class TokenCreate(AuthCommand):
    """Create an API token (role viewer by default, operator or admin); shown only once."""

    name = "token_create"
    args = (Arg("role", default="viewer", choices=ROLES, help="what the token may do"),
            Arg("name", help="a name to revoke it by (default: made up)", most=200))

    async def execute(self, args: dict[str, Any]) -> Any:
        try:
            created = self.store().create_token(args["role"], args["name"])
        except AuthError as exc:
            raise RpcError(str(exc), BAD_REQUEST) from None
        self.arbiter.audit("token_create", "edgectl", f"token {created['name']} "
                                                      f"({created['role']})")
        return created


class StoreListing(AuthCommand):
    """Base of the listings: what ``lists`` returns from the store, as it is (the store
    leaves out the secrets)."""

    args = ()
    edits = False
    lists: ClassVar[Callable[[AuthStore], Any]]

    async def execute(self, args: dict[str, Any]) -> Any:
        return type(self).lists(self.store())


class TokenList(StoreListing):
    """List API tokens: name, role, created (never the tokens themselves)."""

    name = "token_list"
    lists = AuthStore.list_tokens


class TokenRevoke(AuthCommand):
    """Revoke an API token by name."""

    name = "token_revoke"
    args = (Arg("name", required=True, help="the token's name", least=1, most=200),)

    async def execute(self, args: dict[str, Any]) -> Any:
        name = args["name"]
        if not self.store().revoke_token(name):
            raise RpcError(f"no token named {name!r}", NOT_FOUND)
        self.arbiter.audit("token_revoke", "edgectl", f"token {name}")
        self.changed()
        return {"name": name, "revoked": True}


class UserCommand(AuthCommand):
    """Base: a user change, audited with who asked (``who``, default edgectl)."""

    def change(self, action: str, args: dict[str, Any], fn: Any, *fn_args: Any) -> Any:
        try:
            result = fn(*fn_args)
        except LookupError as exc:
            raise RpcError(str(exc).strip("'\""), NOT_FOUND) from None
        except AuthError as exc:
            code = REFUSED if "last admin" in str(exc) or "exists" in str(exc) else BAD_REQUEST
            raise RpcError(str(exc), code) from None
        self.arbiter.audit(action, args["who"], f"user {fn_args[0]}", role=args.get("role"))
        self.changed()
        return result


class UserAdd(UserCommand):
    """Add a user with a password and a role (viewer by default, operator or admin)."""

    name = "user_add"
    args = (USERNAME, PASSWORD, Arg("role", default="viewer", choices=ROLES,
                                    help="what the user may do"), WHO)

    async def execute(self, args: dict[str, Any]) -> Any:
        username, role = args["username"], args["role"]
        self.change("user_add", args, self.store().add_user, username, args["password"],
                    role)
        return {"name": username, "role": role, "added": True}


class UserList(StoreListing):
    """List the users: name, role, when the password changed (never the hashes)."""

    name = "user_list"
    lists = AuthStore.list_users


class UserRemove(UserCommand):
    """Remove a user (their sessions end at once); the last admin stays."""

    name = "user_remove"
    args = (USERNAME, WHO)

    async def execute(self, args: dict[str, Any]) -> Any:
        username = args["username"]
        self.change("user_remove", args, self.store().remove_user, username)
        return {"name": username, "removed": True}


class UserUpdate(UserCommand):
    """Set a user's password and/or role; their sessions end at once."""

    name = "user_update"
    args = (USERNAME, Arg("password", help="the new password", least=1, most=1024),
            Arg("role", choices=ROLES, help="the new role"), WHO)

    async def execute(self, args: dict[str, Any]) -> Any:
        username, password, role = args["username"], args["password"], args["role"]
        if password is None and role is None:
            raise RpcError("password or role is required", BAD_REQUEST)
        return self.change("user_update", args, self.store().update_user, username, role,
                           password)


def set_admin_password(data_dir: Path, password: str) -> Path:
    """Write the admin password into the store in ``data_dir`` directly, by the store's
    rules (flock, atomic replace, 0600): ``edgectl passwd`` when no daemon answers.
    Returns the store's path; a refused password raises ValueError (AuthError)."""
    store = AuthStore(data_dir)
    store.set_password(password, ADMIN_USER, "admin")
    return store.path
