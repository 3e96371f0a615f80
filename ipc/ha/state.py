"""This core's HA role and epoch, persisted in ``<data>/ha.json`` (atomic, 0600).

Roles: ``primary`` (the active core nobody took over from), ``standby`` (mirrors a
peer, actuates nothing) and ``active`` (a standby that was promoted). The epoch grows
by one on every promotion and is never lowered: it is written before the role change
takes effect, so a core that crashes mid-way comes back with the higher epoch.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeos.common.files import atomic_write_json

HA_FILE = "ha.json"
MAX_BYTES = 64 * 1024
ROLES = ("primary", "standby", "active")
ACTIVE_ROLES = ("primary", "active")
PERSISTED = ("role", "epoch", "peer", "since", "reason")


class HaStateError(ValueError):
    """``ha.json`` is unreadable or malformed; the message names the file and field."""


@dataclass
class HaState:
    role: str = "primary"
    epoch: int = 1
    peer: str | None = None  # HOST:PORT of the other core (a standby's primary)
    since: float = 0.0
    reason: str = ""
    #: self-fenced (why; not persisted): an active core that lost its standby and every
    #: satellite for ``failover_s`` holds its own device instances stopped until it
    #: hears from the standby again (supervisor/ha_selffence.py)
    fenced: str = ""
    fence_timer: asyncio.TimerHandle | None = field(default=None, repr=False, compare=False)

    @property
    def active(self) -> bool:
        return self.role in ACTIVE_ROLES

    @property
    def actuates(self) -> bool:
        """Its own (non-mirror) device instances run: active and not self-fenced."""
        return self.active and not self.fenced

    @classmethod
    def load(cls, data_dir: Path) -> HaState | None:
        """The persisted state, or None when this core never had one."""
        path = Path(data_dir) / HA_FILE
        if not path.exists():
            return None
        try:
            if path.stat().st_size > MAX_BYTES:
                raise HaStateError(f"{path}: larger than {MAX_BYTES} bytes")
            doc = json.loads(path.read_text("utf-8"))
        except json.JSONDecodeError as exc:
            raise HaStateError(f"{path}: invalid JSON at line {exc.lineno} column "
                               f"{exc.colno}: {exc.msg}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise HaStateError(f"{path}: cannot read: {exc}") from None
        if not isinstance(doc, dict):
            raise HaStateError(f"{path}: must be a JSON object")
        role, epoch = doc.get("role"), doc.get("epoch")
        if role not in ROLES:
            raise HaStateError(f"{path}: role must be one of {', '.join(ROLES)}, not {role!r}")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
            raise HaStateError(f"{path}: epoch must be a whole number >= 1, not {epoch!r}")
        peer = doc.get("peer")
        return cls(role=role, epoch=epoch, peer=peer if isinstance(peer, str) else None,
                   since=float(doc.get("since") or 0), reason=str(doc.get("reason") or ""))

    def save(self, data_dir: Path) -> None:
        atomic_write_json(Path(data_dir) / HA_FILE, {k: getattr(self, k) for k in PERSISTED},
                          backup_dir=Path(data_dir) / "backups")

    def change(self, role: str, reason: str, *, epoch: int | None = None,
               peer: str | None = None) -> dict[str, Any]:
        """Move to ``role`` (epoch only ever grows); returns the event to publish."""
        if role not in ROLES:
            raise HaStateError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        old = self.role
        self.role = role
        self.epoch = max(self.epoch, epoch or self.epoch)
        if peer is not None:
            self.peer = peer
        self.since = time.time()
        self.reason = reason
        return {"from": old, "to": role, "epoch": self.epoch, "peer": self.peer,
                "reason": reason}

    def edit_refusal(self, what: str) -> str | None:
        """Why ``what`` (a mirrored file) cannot be edited here, or None: on a standby an
        edit would be overwritten by the active core's next mirrored version of it."""
        if self.role != "standby":
            return None
        return (f"this core is a standby: {what} is mirrored from the active core "
                f"{self.peer or '(its primary)'}; edit it there")
