"""The broker's fast path: datapoints whose routes deliver them unchanged.

:func:`run` is the reference implementation; ``_fastpath.c`` is the same function in C
(built at install time when a compiler is there, as Tornado builds its speedups) and
is used when it imports. Both take the same arguments and leave the same result; the
tests run one against the other.

A *plan* says what to do with a reported value on one path of one source: a tuple of
hops ``(outbox list, head, tail, route tally)``: the command to queue is msgpack,
``head`` (the array header and the target path) + the value + the ts + ``tail`` (the
origin chain), queued as those bytes: what the worker gets, without a tuple per command
and a pack of it per send (:func:`join` makes the CMD body; a general-path command
beside them is a tuple, packed when sent). A value the wire encodes otherwise than a
scalar (int, float, bool, None, str) takes the general path. The tally is the
route's ``[fired, last_fired_ts]``, see
:meth:`edgeos.ipc.routing.Router.plain_targets`), empty when no
route starts there, None when the general path must decide (transforms, conditions,
schedules, the ``log`` target), ``UNPLANNED`` (False) until the dispatcher made it.
Plans live in the points of :mod:`edgeos.ipc.broker.store`, beside the value they route.
"""

from __future__ import annotations

from typing import Any

import msgpack
from edgeos.ipc import protocol

QUALITIES = protocol.QUALITIES
SCALARS = (int, float, bool, str, type(None))
INT_RANGE = range(-2**63, 2**64)  # what msgpack writes


def encode_scalar(value: Any) -> bytes | None:
    """msgpack of a scalar the fast path passes on, None for anything else."""
    kind = type(value)
    if kind not in SCALARS or (kind is int and value not in INT_RANGE):
        return None
    try:
        return protocol.pack(value)
    except (UnicodeEncodeError, ValueError):  # lone surrogates; a str over 4 GB
        return None


def head(target_path: str) -> bytes:
    """The start of a command to ``target_path``: ``[path, value, ts, origin]``'s."""
    return b"\x94" + protocol.pack(target_path)


array_header = msgpack.Packer().pack_array_header  # the header of an n-item array


def join(commands: list[Any]) -> bytes | None:
    """The CMD body (a msgpack array) of ``commands`` when all are pre-encoded (bytes);
    None when some are tuples (the caller packs those, :func:`pack_commands`)."""
    if not all(type(c) is bytes for c in commands):
        return None
    return array_header(len(commands)) + b"".join(commands)


def pack_commands(commands: list[Any], join: Any = join) -> bytes:
    """The CMD body of an outbox list: pre-encoded commands as they are, tuples packed."""
    body = join(commands)
    if body is None:
        body = array_header(len(commands)) + b"".join(
            c if type(c) is bytes else protocol.pack(c) for c in commands)
    return body


def run(items: tuple[Any, ...] | list[Any], start: int, points: dict[str, list[Any]],
        unsaved: list[list[Any]]) -> int:
    """Handle ``items[start:]`` for as long as each can take the fast path: store it in
    its point, list the point as unsaved, queue a command per hop and count the route
    as fired.

    Returns the index of the first item that cannot (not a 6-tuple, no point or no plan
    yet, plan None, ack not True, unknown quality, a value that is not a scalar, a ts that
    is not an int), or ``len(items)`` when all could.
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
                or type(path) is not str or type(ts) is not int:
            return i
        value_ts = encode_scalar(value)
        ts_bytes = encode_scalar(ts)
        if value_ts is None or ts_bytes is None:
            return i
        value_ts += ts_bytes
        point[0] = item
        if not point[2]:
            point[2] = True
            unsaved.append(point)
        for outbox, first, tail, tally in plan:
            outbox.append(first + value_ts + tail)
            tally[0] += 1
            tally[1] = ts
    return len(items)
