"""The wire protocol spoken between edgeos processes.

Every message is a ZeroMQ multipart message ``[kind, body, *blobs]``: ``kind`` is one
of the byte strings below, ``body`` is msgpack. Large values travel as extra frames
(``blobs``) so the broker can pass them on without copying.

Sockets (all ``ipc://`` in the run dir, see :mod:`edgeos.ipc.addresses`):

* ``supervisor.sock`` ROUTER (supervisor) <- DEALER per worker, identity = instance id.
  Worker -> supervisor: HELLO, READY, HEARTBEAT, ERROR, EVENT.
* ``beats/<id>`` (a file, not a socket: ``ipc/steady_beats.py``): a worker's
  HEARTBEAT with nothing moved, overwritten each time, with its monotonic send time;
  read at the supervisor's pass.
* ``broker.sock`` ROUTER (broker) <- DEALER per worker, identity = instance id.
  Worker -> broker: DP (datapoint batch), META, BLOB, CMD (bridges), REPLY, QUERY.
  Broker -> worker: CMD, REPLY (the refusals of the commands that worker sent), ANSWER.
  A QUERY ``{"id", "what", ...}`` asks what a bridge needs to know of the system
  (``instances``: id -> type and status; ``datapoints`` under a ``prefix`` with their
  metadata); its ANSWER is ``{"id", "result"}`` or ``{"id", "error"}``. Workers keep off
  the control sockets, which are for edgectl, the UI and the supervisor.
* ``changes.sock`` PUB (broker): topic frame ``b"<instance-id>."``, then the worker's DP
  batch as it sent it, so its paths are RELATIVE: the absolute address is the topic
  plus the path (:class:`edgeos.ipc.changes.ChangeFeed` joins them; a satellite's
  datapoints come with the topic ``b"<satellite-id>."`` and paths ``<instance>.<path>``).
  A BLOB is one such item whose value is ``{"blob_bytes": n}``, its payload a third
  frame. Subscribers (UI, MQTT bridge, uplink, historian) filter by topic prefix.
* ``events.sock`` PUB (supervisor): topic frame (``b"state"``, ``b"stats"``,
  ``b"mode"``, ``b"error"``, ``b"limit"``, ``b"reload"``, ``b"auth"``, ``b"plugin"``,
  ``b"log.<id>"``), then a msgpack body.
* ``control.sock`` ROUTER (supervisor) and ``broker-ctl.sock`` ROUTER (broker): RPC,
  see :mod:`edgeos.ipc.rpc`.

A datapoint on the wire is a list ``[path, value, ts_ms, quality, ack, unit]``. Its
``path`` is relative in a worker's DP batch (to the sending instance: the broker takes
the instance from the authenticated socket identity, never from the path, and routes
``<identity>.<path>``), relative on ``changes.sock`` (to the topic, see above) and in a
CMD batch from the broker (to the receiving instance); it is absolute only in a CMD a
worker sends (bridges address any instance) and in the broker's control API.

Writes are acknowledged end to end. A command on the wire from the broker to a worker
is ``[path, value, ts_ms, origin]`` with an optional 5th element, the command id (an
int) when someone waits for the outcome. The worker answers with a REPLY batch of
``[id, path, refusal, message, origin]``: ``refusal`` is None when the device took the
command (then the device reports the value back with ack true, which is what
``confirmed`` means) or one of :data:`REFUSALS`. A command without an id is answered
only when refused, so routes count their refused writes. A worker sending commands
(bridges) gives each ``[address, value]`` a 3rd element, its own reference; refusals
come back to it as ``REPLY`` items ``[ref, address, refusal, message, None]``. Reported
values (ack true) are unchanged, so the broker's fast path is too.
"""

from __future__ import annotations

import time
from typing import Any

import msgpack

HELLO = b"hello"
READY = b"ready"
HEARTBEAT = b"hb"
ERROR = b"error"
EVENT = b"event"
DP = b"dp"
META = b"meta"
BLOB = b"blob"
CMD = b"cmd"
REPLY = b"reply"
QUERY = b"query"
ANSWER = b"answer"

# Why a write was refused (the ``refusal`` of a REPLY item, the API's ``refusal``).
BAD_VALUE = "bad_value"  # the value does not fit the datapoint's type or range
READ_ONLY = "read_only"  # the datapoint exists and cannot be written
UNKNOWN_DATAPOINT = "unknown_datapoint"  # no such datapoint or instance
DEVICE_ERROR = "device_error"  # the device or its link failed or said no
PANIC = "panic"  # panic mode: commands to devices are blocked
NOT_DELIVERED = "not_delivered"  # instance not running, disconnected or suspended
REFUSALS = (BAD_VALUE, READ_ONLY, UNKNOWN_DATAPOINT, DEVICE_ERROR, PANIC, NOT_DELIVERED)

QUALITIES = ("good", "uncertain", "bad")

# A single message larger than this is dropped and counted by its receiver.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def pack(obj: Any) -> bytes:
    """Encode one body."""
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data: bytes | memoryview) -> Any:
    """Decode one body; raises ``ValueError`` (and subclasses) on garbage."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def unpack_batch(data: bytes | memoryview) -> Any:
    """Decode a DP batch with arrays as tuples (faster to build, and a stored last value
    cannot be changed in place by whoever reads it)."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=False)


def now_ms() -> int:
    """Wall-clock timestamp in milliseconds, the ``ts`` of every datapoint."""
    return time.time_ns() // 1_000_000
