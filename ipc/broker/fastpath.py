"""The broker's fast path: datapoints whose routes deliver them unchanged.

:func:`run` is the reference implementation; ``_fastpath.c`` is the same function in C
(built at install time when a compiler is there, as Tornado builds its speedups) and
is used when it imports. Both take the same arguments and leave the same result; the
tests run one against the other.

A *plan* says what to do with a reported value on one path of one source: a tuple of
hops ``(outbox list, target path, origin chain, route tally)`` (the tally is the
route's ``[fired, last_fired_ts]``, see
:meth:`edgeos.ipc.routing.Router.plain_targets`), empty when no
route starts there, None when the general path must decide (transforms, conditions,
schedules, the ``log`` target), ``UNPLANNED`` (False) until the dispatcher made it.
Plans live in the points of :mod:`edgeos.ipc.broker.store`, beside the value they route.
"""

from __future__ import annotations

from typing import Any

from edgeos.ipc import protocol

QUALITIES = protocol.QUALITIES


def run(items: tuple[Any, ...] | list[Any], start: int, points: dict[str, list[Any]],
        unsaved: list[list[Any]]) -> int:
    """Handle ``items[start:]`` for as long as each can take the fast path: store it in
    its point, list the point as unsaved, queue a command per hop and count the route
    as fired.

    Returns the index of the first item that cannot (not a 6-tuple, no point or no plan
    yet, plan None, ack not True, unknown quality), or ``len(items)`` when all could.
    """
    for i in range(start, len(items)):
        item = items[i]
        if type(item) is not tuple:
            return i
        try:
            path, value, ts, quality, ack, _unit = item
            point = points[path]
        except (KeyError, ValueError, TypeError):
            return i
        plan = point[1]
        if type(plan) is not tuple or ack is not True or quality not in QUALITIES \
                or type(path) is not str:
            return i
        point[0] = item
        if not point[2]:
            point[2] = True
            unsaved.append(point)
        for outbox, target_path, origin, tally in plan:
            outbox.append((target_path, value, ts, origin))
            tally[0] += 1
            tally[1] = ts
    return len(items)
