"""Writes in flight: commands whose outcome someone is waiting for.

A ``set`` (CLI, API, UI) waits for the target worker's answer: refused with a reason,
or accepted and then confirmed when the device reports the value back (ack true). A
command a worker sent (a bridge) is relayed: if it is refused, the refusal goes back
to that worker so it can count it. Both are entries here, keyed by the command id the
broker put on the wire; the table is bounded (the oldest entries go first), since a
worker that dies never answers.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import Any

PENDING_MAX = 10_000
WAIT_DEFAULT_S = 5.0
WAIT_MAX_S = 300.0

CONFIRMED, REFUSED, TIMEOUT, SENT = "confirmed", "refused", "timeout", "sent"


@dataclass
class Waiter:
    """A ``set`` waiting for its outcome: ``(outcome, refusal, message)``."""

    address: str
    future: asyncio.Future[tuple[str, str | None, str | None]]
    accepted: bool = False


@dataclass
class Relay:
    """A command a worker sent; a refusal goes back to ``source`` with its ``ref``."""

    source: str
    ref: Any
    address: str


@dataclass
class Writes:
    """The table of writes in flight, and refused writes counted per target instance."""

    pending: OrderedDict[int, Waiter | Relay] = field(default_factory=OrderedDict)
    refused: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _add(self, entry: Waiter | Relay) -> int:
        cmd_id = next(self._ids)
        self.pending[cmd_id] = entry
        while len(self.pending) > PENDING_MAX:
            _, old = self.pending.popitem(last=False)
            if isinstance(old, Waiter) and not old.future.done():
                old.future.set_result((TIMEOUT, None, "too many writes in flight"))
        return cmd_id

    def wait(self, address: str) -> tuple[int, Waiter]:
        waiter = Waiter(address, asyncio.get_running_loop().create_future())
        return self._add(waiter), waiter

    def relay(self, source: str, ref: Any, address: str) -> int:
        return self._add(Relay(source, ref, address))

    def drop(self, cmd_id: int) -> None:
        self.pending.pop(cmd_id, None)

    def answer(self, cmd_id: int, refusal: str | None, message: str | None) -> Relay | None:
        """The target's answer to command ``cmd_id``: ``refusal`` None and ``message``
        ``accepted`` or ``confirmed``, else refused. Returns the relay to tell of a
        refusal, if the command came from a worker."""
        entry = self.pending.get(cmd_id)
        if entry is None:
            return None
        if isinstance(entry, Relay):
            del self.pending[cmd_id]
            return entry if refusal is not None else None
        if entry.future.done():
            return None
        if refusal is not None:
            entry.future.set_result((REFUSED, refusal, message))
        elif message == CONFIRMED:
            entry.future.set_result((CONFIRMED, None, None))
        else:
            entry.accepted = True
        return None
