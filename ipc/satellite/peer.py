"""What the core's satellite listener knows of any node that dials it.

Satellites (``gateway.py``) and standby cores (``ipc/ha/source.py``) share the same
ROUTER: each message names the connection it came over, and a new connection (a
reconnect) brings a new peer address.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import zmq


@dataclass(kw_only=True)
class LinkPeer:
    """A peer's current connection and when it was last heard."""

    rid: bytes | None = None  # the ROUTER routing id of its current connection
    state: str = "offline"
    address: str | None = None
    last_seen: float | None = None

    def heard(self, rid: bytes, meta: zmq.Frame) -> bool:
        """A message over connection ``rid`` (``meta``: a frame carrying the connection's
        metadata); True when that is a new connection, whose address is then taken."""
        self.last_seen = time.time()
        if self.rid == rid:
            return False
        self.rid, self.address = rid, meta.get("Peer-Address")
        return True
