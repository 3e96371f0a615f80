"""Commands for a satellite that is not connected to this core: held, then sent once
or refused, never silently dropped (issue 15).

Around a planned switch-over or a failover a satellite reaches the new active core a
few seconds after that core took over (it tries its cores in turn, SWITCH_S each); a
route's or a user's command in that window used to vanish. The gateway now holds such
commands for at most :data:`HOLD_S` and sends them when the satellite's link is
welcomed here, in order, exactly once (a held command is forgotten when it went out).
One held longer, one beyond :data:`MAX_HELD`, and every held one when this core stops
being the active core (a stale command must not follow a hand-over) is refused as
``not_delivered`` with the reason: a waiting ``set`` gets it, a route counts it.
Pure bookkeeping on a given clock: unit-tested without sockets.
"""

from __future__ import annotations

from collections import deque
from typing import Any

#: how long a command waits for its satellite to connect (a switch-over takes a few s)
HOLD_S = 15.0
#: commands held per satellite; beyond it the oldest is refused
MAX_HELD = 1000

Command = list[Any]  # as the broker sent it: [path, value, ts_ms, origin, id?]


class CommandHold:
    """The commands held for one satellite, oldest first, with when they came."""

    def __init__(self) -> None:
        self.items: deque[tuple[float, Command]] = deque()

    def __len__(self) -> int:
        return len(self.items)

    def add(self, commands: list[Command], now: float) -> list[Command]:
        """Hold ``commands``; returns those pushed out beyond MAX_HELD (to refuse)."""
        self.items.extend((now, c) for c in commands)
        out = []
        while len(self.items) > MAX_HELD:
            out.append(self.items.popleft()[1])
        return out

    def expired(self, now: float) -> list[Command]:
        """Those held HOLD_S or longer, removed (to refuse)."""
        out = []
        while self.items and now - self.items[0][0] >= HOLD_S:
            out.append(self.items.popleft()[1])
        return out

    def take(self) -> list[Command]:
        """All of them, removed: to send, or to refuse."""
        out = [c for _, c in self.items]
        self.items.clear()
        return out

    def next_expiry(self) -> float | None:
        """When the oldest expires (the clock of :meth:`add`), or None: nothing held."""
        return self.items[0][0] + HOLD_S if self.items else None


def refusals(commands: list[Command], refusal: str, message: str) -> list[list[Any]]:
    """The broker's REPLY items for ``commands``: ``[id, path, refusal, message, origin]``
    (a command without an id is answered too: routes count their refused writes)."""
    return [[c[4] if len(c) > 4 else None, c[0], refusal, message,
             c[3] if len(c) > 3 else None] for c in commands]
