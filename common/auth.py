"""The auth store: admin password (salted scrypt) and API tokens (SHA-256), one file.

``<data>/auth.json`` (mode 0600) is shared by the admin UI process, which reads it,
and the supervisor's ``passwd``/``token_*`` commands, which change it. Readers check
the file's mtime on every use and re-read it when it changed, so a password set with
``edgectl passwd`` or a revoked token takes effect at once without a restart.
Writers hold an exclusive ``flock`` around read-modify-write.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeos.common.files import atomic_write_json

log = logging.getLogger(__name__)

AUTH_FILE = "auth.json"
ROLES = ("viewer", "operator", "admin")
RANK = {role: n for n, role in enumerate(ROLES)}  # each role may do what the ones below may
ADMIN_USER = "admin"
TOKEN_PREFIX = "eos_"
NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD_LEN = 8
# scrypt cost: ~16 MiB and a few tens of ms per check; slows guessing, not logins.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class AuthError(ValueError):
    """A request to change the store was refused (bad name, short password, duplicate)."""


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user logged in with a password, or an API token."""

    name: str
    role: str
    kind: str  # "user" or "token"
    generation: str = ""  # changes when the password changes: ends old sessions

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may(self, role: str) -> bool:
        """True when this principal's role is ``role`` or above it."""
        return RANK.get(self.role, -1) >= RANK[role]

    @property
    def label(self) -> str:
        """For audit records: ``admin`` or ``token:nodered``."""
        return self.name if self.kind == "user" else f"token:{self.name}"


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    """scrypt, then its ~16 MiB work area back to the OS: glibc keeps a freed block that
    big in the heap (its mmap threshold grows with use), so without the trim the
    supervisor and the admin UI would carry it for good after one password check."""
    import hashlib  # (here: OpenSSL's pages only in a process that checks a password)

    try:
        return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    finally:
        with contextlib.suppress(OSError, AttributeError):  # (not glibc: nothing to trim)
            ctypes.CDLL(None).malloc_trim(0)


def hash_password(password: str, salt: bytes | None = None) -> dict[str, Any]:
    import secrets

    salt = salt or secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return {"algo": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P,
            "salt": salt.hex(), "hash": digest.hex()}


def verify_password(password: str, record: dict[str, Any]) -> bool:
    try:
        digest = _scrypt(password, bytes.fromhex(record["salt"]), int(record["n"]),
                         int(record["r"]), int(record["p"]))
    except (KeyError, ValueError, TypeError):
        return False
    import hmac

    return hmac.compare_digest(digest.hex(), str(record.get("hash", "")))


def token_hash(token: str) -> str:
    """Tokens are 256 random bits, so a plain SHA-256 is enough (no brute force)."""
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


def _generation(user: dict[str, Any]) -> str:
    return f"{user['password']['hash']}:{user.get('role', 'admin')}"


@functools.cache
def _dummy() -> dict[str, Any]:
    """A fixed record to burn the same scrypt time for unknown users (no user oracle);
    made at the first login, not at import (edgectl imports this module)."""
    return hash_password("-", salt=b"\0" * 16)


class AuthStore:
    """Read-mostly view of ``auth.json`` with locked read-modify-write for changes."""

    def __init__(self, data_dir: Path | str) -> None:
        self.path = Path(data_dir) / AUTH_FILE
        self._stamp: tuple[int, int] | None = None
        self._doc: dict[str, Any] = self._empty()
        self._by_hash: dict[str, str] = {}

    @staticmethod
    def _empty() -> dict[str, Any]:
        return {"version": 1, "users": {}, "tokens": {}}

    # -- reading ---------------------------------------------------------------------
    def _fresh(self) -> dict[str, Any]:
        """The document, re-read when the file's mtime or size changed."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            if self._stamp is not None:
                self._stamp, self._doc, self._by_hash = None, self._empty(), {}
            return self._doc
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                log.error("cannot read %s: %s (keeping the previous version)", self.path, exc)
                return self._doc
            doc.setdefault("users", {})
            doc.setdefault("tokens", {})
            self._doc, self._stamp = doc, stamp
            self._by_hash = {t["hash"]: name for name, t in doc["tokens"].items()}
        return self._doc

    def has_user(self, name: str = ADMIN_USER) -> bool:
        return name in self._fresh()["users"]

    def check_password(self, username: str, password: str) -> Principal | None:
        """The user if the password matches; always spends one scrypt computation."""
        user = self._fresh()["users"].get(username)
        if user is None:
            verify_password(password, _dummy())
            return None
        if not verify_password(password, user["password"]):
            return None
        return Principal(username, user.get("role", "admin"), "user", _generation(user))

    def generation(self, username: str) -> str | None:
        """The current password hash and role of a user: a session made under another
        one is void (a changed password or role ends the user's sessions)."""
        user = self._fresh()["users"].get(username)
        return None if user is None else _generation(user)

    def check_token(self, token: str) -> Principal | None:
        doc = self._fresh()
        name = self._by_hash.get(token_hash(token))
        if name is None:
            return None
        return Principal(name, doc["tokens"][name].get("role", "viewer"), "token")

    def list_users(self) -> list[dict[str, Any]]:
        """Names, roles and when the password last changed; never the hashes."""
        return [{"name": n, "role": u.get("role", "admin"), "changed": u.get("changed")}
                for n, u in sorted(self._fresh()["users"].items())]

    def list_tokens(self) -> list[dict[str, Any]]:
        """Names, roles and creation times; never the hashes."""
        return [{"name": n, "role": t.get("role"), "created": t.get("created"),
                 "hint": t.get("hint")} for n, t in sorted(self._fresh()["tokens"].items())]

    # -- changing --------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Exclusive read-modify-write across processes; writes 0600 atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            self._stamp = None  # force a re-read under the lock
            doc = json.loads(json.dumps(self._fresh()))
            yield doc
            atomic_write_json(self.path, doc)
            os.chmod(self.path, 0o600)
            self._stamp = None
        finally:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)
            os.close(lock_fd)

    def set_password(self, password: str, username: str = ADMIN_USER,
                     role: str = "admin") -> None:
        if len(password) < MIN_PASSWORD_LEN:
            raise AuthError(f"the password needs at least {MIN_PASSWORD_LEN} characters")
        if not NAME_RE.match(username):
            raise AuthError(f"bad user name {username!r}")
        if role not in ROLES:
            raise AuthError(f"role must be one of {', '.join(ROLES)}")
        record = hash_password(password)
        with self._locked() as doc:
            doc["users"][username] = {"role": role, "password": record,
                                      "changed": int(time.time() * 1000)}

    def ensure_admin_password(self) -> str | None:
        """First start: generate, store (hashed) and return an admin password; None when
        one exists already. The caller shows it once."""
        if self.has_user(ADMIN_USER):
            return None
        import secrets

        password = secrets.token_urlsafe(12)
        with self._locked() as doc:
            if ADMIN_USER in doc["users"]:  # another process won the race
                return None
            doc["users"][ADMIN_USER] = {"role": "admin", "password": hash_password(password),
                                        "changed": int(time.time() * 1000), "generated": True}
        return password

    @staticmethod
    def _check(username: str, role: str | None, password: str | None) -> None:
        if not NAME_RE.match(username):
            raise AuthError(f"bad user name {username!r} (1-64 letters, digits, _ . @ -)")
        if role is not None and role not in ROLES:
            raise AuthError(f"role must be one of {', '.join(ROLES)}")
        if password is not None and len(password) < MIN_PASSWORD_LEN:
            raise AuthError(f"the password needs at least {MIN_PASSWORD_LEN} characters")

    @staticmethod
    def _admins_left(doc: dict[str, Any], without: str) -> int:
        return sum(1 for n, u in doc["users"].items()
                   if n != without and u.get("role", "admin") == "admin")

    def add_user(self, username: str, password: str, role: str = "viewer") -> None:
        """A new user; refused when the name is taken."""
        self._check(username, role, password)
        record = hash_password(password)
        with self._locked() as doc:
            if username in doc["users"]:
                raise AuthError(f"a user named {username!r} exists")
            doc["users"][username] = {"role": role, "password": record,
                                      "changed": int(time.time() * 1000)}

    def update_user(self, username: str, role: str | None = None,
                    password: str | None = None) -> dict[str, Any]:
        """Change a user's role and/or password; the last admin stays an admin."""
        self._check(username, role, password)
        record = hash_password(password) if password is not None else None
        with self._locked() as doc:
            user = doc["users"].get(username)
            if user is None:
                raise LookupError(f"no user named {username!r}")
            if role is not None and role != "admin" and user.get("role", "admin") == "admin" \
                    and not self._admins_left(doc, username):
                raise AuthError(f"{username!r} is the last admin; make another user admin "
                                "first")
            if role is not None:
                user["role"] = role
            if record is not None:
                user["password"] = record
                user["changed"] = int(time.time() * 1000)
                user.pop("generated", None)
            return {"name": username, "role": user.get("role", "admin")}

    def remove_user(self, username: str) -> None:
        """Delete a user (their sessions end); never the last admin."""
        with self._locked() as doc:
            user = doc["users"].get(username)
            if user is None:
                raise LookupError(f"no user named {username!r}")
            if user.get("role", "admin") == "admin" and not self._admins_left(doc, username):
                raise AuthError(f"{username!r} is the last admin and cannot be removed")
            del doc["users"][username]

    def create_token(self, role: str = "viewer", name: str | None = None) -> dict[str, Any]:
        """A new bearer token; the clear text is in the result and nowhere else."""
        if role not in ROLES:
            raise AuthError(f"role must be one of {', '.join(ROLES)}")
        import secrets

        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._locked() as doc:
            if name is None:
                n = len(doc["tokens"]) + 1
                while f"token-{n}" in doc["tokens"]:
                    n += 1
                name = f"token-{n}"
            if not NAME_RE.match(name):
                raise AuthError(f"bad token name {name!r} (letters, digits, _ . @ -)")
            if name in doc["tokens"]:
                raise AuthError(f"a token named {name!r} exists; revoke it first")
            doc["tokens"][name] = {"role": role, "hash": token_hash(token),
                                   "created": int(time.time() * 1000), "hint": token[:8]}
        return {"name": name, "role": role, "token": token}

    def revoke_token(self, name: str) -> bool:
        with self._locked() as doc:
            return doc["tokens"].pop(name, None) is not None
