"""The core's trust store: which satellite keys it admits, under which ids.

``<data>/satellites.json`` (0600, atomic writes with a backup) maps each trusted
satellite id to its public key, and keeps revoked ids with the key they had. Only the
supervisor writes it (``edgectl satellites trust|revoke``); the gateway reads it and is
told to re-read it. Keys that tried to connect without being trusted are the gateway's
(in memory, listed as ``pending``), never written here until an admin trusts one.
An id is bound to one key: trusting another key for a trusted id is refused.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeos.common.files import atomic_write_json
from edgeos.common.jsonfile import ConfigError, read_json
from edgeos.ipc.satellite.keys import check_key

TRUST_FILE = "satellites.json"
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_SATELLITES = 1000
MAX_STANDBY = 4


class TrustError(ValueError):
    """A refused trust change; the message says why."""


def check_id(sat_id: Any) -> str:
    """A satellite id: letters, digits, ``_`` and ``-`` (no dot: it prefixes addresses)."""
    if not isinstance(sat_id, str) or not ID_RE.match(sat_id):
        raise TrustError(f"satellite id {sat_id!r}: use 1-64 letters, digits, '_' or '-'")
    return sat_id


def read_doc(path: Path) -> dict[str, Any]:
    """A trust file's document; {} when there is none yet (TrustError when unreadable)."""
    if not path.exists():
        return {}
    try:
        doc = read_json(path)
    except ConfigError as exc:
        raise TrustError("; ".join(exc.errors)) from None
    if not isinstance(doc, dict):
        raise TrustError(f"{path.name}: a JSON object is expected")
    return doc


def write_doc(path: Path, doc: dict[str, Any]) -> None:
    """Atomically, with the previous version in ``backups/``."""
    atomic_write_json(path, {"version": "1.0", **doc}, backup_dir=path.parent / "backups")


@dataclass
class TrustStore:
    """Trusted and revoked satellites, loaded from and saved to the data dir."""

    path: Path
    trusted: dict[str, dict[str, Any]] = field(default_factory=dict)
    revoked: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: standby cores (HA, ``edgectl ha trust``): name -> key; they mirror, never send data
    standby: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path) -> TrustStore:
        path = Path(data_dir) / TRUST_FILE
        doc = read_doc(path)
        return cls(path, dict(doc.get("trusted") or {}), dict(doc.get("revoked") or {}),
                   dict(doc.get("standby") or {}))

    def save(self) -> None:
        write_doc(self.path, {"trusted": self.trusted, "revoked": self.revoked,
                              "standby": self.standby})

    def id_of(self, key: str) -> str | None:
        """The trusted id bound to ``key``, or None."""
        for sat_id, entry in self.trusted.items():
            if entry["key"] == key:
                return sat_id
        return None

    def is_revoked(self, key: str) -> bool:
        return any(e["key"] == key for e in self.revoked.values())

    def trust(self, key: str, sat_id: str, reserved: set[str] | frozenset[str] = frozenset()
              ) -> dict[str, Any]:
        """Admit ``key`` as satellite ``sat_id``; refuses an id bound to another key."""
        key = check_key(key, "satellite key").decode("ascii")
        check_id(sat_id)
        if sat_id in reserved:
            raise TrustError(f"satellite id {sat_id!r} is already an instance id on this core")
        bound = self.trusted.get(sat_id)
        if bound is not None and bound["key"] != key:
            raise TrustError(f"satellite id {sat_id!r} is bound to another key "
                             f"({bound['key'][:8]}...); revoke it first")
        other = self.id_of(key)
        if other is not None and other != sat_id:
            raise TrustError(f"this key is already trusted as satellite {other!r}")
        if bound is None and len(self.trusted) >= MAX_SATELLITES:
            raise TrustError(f"at most {MAX_SATELLITES} satellites can be trusted")
        self.trusted[sat_id] = {"key": key, "since": int(time.time())}
        self.revoked = {i: e for i, e in self.revoked.items() if e["key"] != key and i != sat_id}
        return {"id": sat_id, "key": key, "state": "trusted"}

    def revoke(self, sat_id: str) -> dict[str, Any]:
        entry = self.trusted.pop(sat_id, None)
        if entry is None:
            raise TrustError(f"no trusted satellite {sat_id!r}")
        self.revoked[sat_id] = {"key": entry["key"], "since": int(time.time())}
        return {"id": sat_id, "key": entry["key"], "state": "revoked"}

    def trust_standby(self, key: str, name: str = "standby") -> dict[str, Any]:
        """Admit ``key`` as a standby core (kind ``standby``): it may mirror this core."""
        key = check_key(key, "standby key").decode("ascii")
        check_id(name)
        if self.id_of(key) is not None:
            raise TrustError(f"this key is trusted as satellite {self.id_of(key)!r}")
        if name not in self.standby and len(self.standby) >= MAX_STANDBY:
            raise TrustError(f"at most {MAX_STANDBY} standby cores can be trusted")
        self.standby[name] = {"key": key, "since": int(time.time())}
        return {"name": name, "key": key, "kind": "standby"}


ROLES = ("admin", "viewer")
MAX_CLIENTS = 100
CLIENTS_FILE = "remote_clients.json"


@dataclass
class RemoteClients:
    """Users' client keys admitted to ``edgectl --endpoint``: name -> key and role, in
    ``<data>/remote_clients.json`` (0600, atomic). Written by the supervisor only."""

    path: Path
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path) -> RemoteClients:
        path = Path(data_dir) / CLIENTS_FILE
        return cls(path, dict(read_doc(path).get("clients") or {}))

    def save(self) -> None:
        write_doc(self.path, {"clients": self.clients})

    def by_key(self, key: str) -> tuple[str, str] | None:
        """(name, role) of a trusted client key, or None."""
        for name, entry in self.clients.items():
            if entry["key"] == key:
                return name, entry["role"]
        return None

    def trust(self, key: str, name: Any, role: Any) -> dict[str, Any]:
        key = check_key(key, "client key").decode("ascii")
        check_id(name)
        if role not in ROLES:
            raise TrustError(f"role {role!r}: use one of {', '.join(ROLES)}")
        other = self.by_key(key)
        if other is not None and other[0] != name:
            raise TrustError(f"this key is already trusted as {other[0]!r}")
        if name not in self.clients and len(self.clients) >= MAX_CLIENTS:
            raise TrustError(f"at most {MAX_CLIENTS} client keys can be trusted")
        self.clients[name] = {"key": key, "role": role, "since": int(time.time())}
        return {"name": name, "key": key, "role": role}

    def revoke(self, name: str) -> dict[str, Any]:
        entry = self.clients.pop(name, None)
        if entry is None:
            raise TrustError(f"no client key named {name!r}")
        return {"name": name, "key": entry["key"], "revoked": True}
