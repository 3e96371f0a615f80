"""The wire protocol spoken between edgeos processes.

Every message is a ZeroMQ multipart message ``[kind, body, *blobs]``: ``kind`` is one
of the byte strings below, ``body`` is msgpack. Large values travel as extra frames
(``blobs``) so the broker can pass them on without copying.

Sockets (all ``ipc://`` in the run dir, see :mod:`edgeos.ipc.addresses`):

* ``supervisor.sock`` ROUTER (supervisor) <- DEALER per worker, identity = instance id.
  Worker -> supervisor: HELLO, READY, HEARTBEAT, ERROR, EVENT.
* ``broker.sock`` ROUTER (broker) <- DEALER per worker, identity = instance id.
  Worker -> broker: DP (datapoint batch), META, BLOB. Broker -> worker: CMD.
* ``changes.sock`` PUB (broker): topic frame ``b"<instance-id>."``, then the worker's DP
  batch as it sent it, so paths are relative to the topic (address = topic + path); a
  BLOB adds its payload as a third frame. Subscribers (UI, MQTT bridge, uplink) filter
  by prefix.
* ``events.sock`` PUB (supervisor): topic frame (``b"state"``, ``b"stats"``,
  ``b"mode"``, ``b"log.<id>"``), then a msgpack body.
* ``control.sock`` ROUTER (supervisor) and ``broker-ctl.sock`` ROUTER (broker): RPC,
  see :mod:`edgeos.ipc.rpc`.

A datapoint on the wire is a list ``[path, value, ts_ms, quality, ack, unit]``; in a
worker's DP batch ``path`` is relative to the sending instance (the broker prefixes the
authenticated identity) and so it stays on ``changes.sock``; in a CMD batch from the
broker it is relative to the receiving instance, in a CMD a worker sends it is absolute.
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
