"""The satellite link's messages and the socket options both ends share.

One CURVE-encrypted TCP link per satellite: a DEALER on the satellite, the core's
ROUTER. Every message is ``[kind, body]`` (msgpack body), DATA adds the stored chunk:

satellite -> core
  HELLO  ``{"id", "epoch", "version", "last_seq", "acked", "lost_s", "failed_tries"}``
         after each handshake (the id is only a claim: the core trusts the key it
         authenticated, never the id). HA, the failover vote (ipc/ha/vote.py):
         ``lost_s``, seconds since a core that is not a standby last said anything;
         ``failed_tries``, cores tried since the last welcome that said nothing at all.
  DATA   ``[DATA, {"e": epoch, "s": first_seq}, chunk]``; ``chunk`` is a msgpack list of
         ``[<instance>.<path>, value, ts, quality, ack, unit]``, item ``i`` has sequence
         number ``first_seq + i``. Sequences grow by one per datapoint within an epoch
         (the buffer's lifetime).
  PING   ``{"t", "backlog", "rtt_ms", "overflow", "stats"}`` once a second.
core -> satellite
  WELCOME ``{"id", "acked"}``: trusted; resend from ``acked + 1``.
  REFUSED ``{"reason", "pending"}``: not trusted (pending), revoked, or id conflict.
  ACK     ``{"acked"}``: everything up to this sequence is on the core (cumulative);
          with ``"rewind": true`` a message after it went missing: resend from there.
  PONG    ``{"t"}``: the PING's ``t`` echoed, for the round-trip time.
  CMD     list of ``[<instance>.<path>, value]``: commands for the satellite's devices;
          a third frame ``{"ha_epoch"}`` is the sending core's epoch (HA fencing): below
          the highest the satellite has seen, it answers FENCED
          ``{"reason": "stale_epoch", "epoch", "refused"}`` and applies none of them.
  CTL     ``{"id", "cmd", "args"}``: an instance command (start/stop/...), answered by
          a satellite RESULT ``{"id", "ok", "result"|"error"}``.
edgectl (a user's client key) <-> core
  RPC     a control request, answered with RPC and the reply (:mod:`edgeos.ipc.rpc`).
"""

from __future__ import annotations

from typing import Any

import zmq

HELLO = b"hello"
DATA = b"data"
PING = b"ping"
WELCOME = b"welcome"
REFUSED = b"refused"
ACK = b"ack"
PONG = b"pong"
CMD = b"cmd"
CTL = b"ctl"
RESULT = b"result"
RPC = b"rpc"  # edgectl --endpoint: a control request/reply (ipc/rpc.py format)
FENCED = b"fenced"  # HA: a command of a stale core epoch was refused (ipc/ha/fence.py)

DEFAULT_PORT = 50051
CTL_SOCK = "satellite-ctl.sock"  # the gateway's control socket in the run dir
HEARTBEAT_IVL_MS = 500
HEARTBEAT_TIMEOUT_MS = 2000  # a cut link is noticed within IVL + TIMEOUT = 2.5 s
HEARTBEAT_TTL_MS = 3000
RECONNECT_IVL_MS = 200
RECONNECT_IVL_MAX_MS = 1000  # back-off doubles up to this: no storm, resume within ~1 s
CONNECT_TIMEOUT_MS = 1500
HANDSHAKE_IVL_MS = 3000  # a connection that stalls in the handshake is retried, not held
CHUNK_MAX = 2000  # datapoints per DATA message
WINDOW = 20_000  # datapoints sent and not yet acknowledged
PING_S = 1.0


def link_options(sock: zmq.Socket[Any]) -> None:
    """Heartbeats, back-off and no lingering, the same on both ends."""
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
    sock.setsockopt(zmq.HEARTBEAT_TTL, HEARTBEAT_TTL_MS)
    sock.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
    sock.setsockopt(zmq.HANDSHAKE_IVL, HANDSHAKE_IVL_MS)
    sock.setsockopt(zmq.SNDHWM, 10_000)
    sock.setsockopt(zmq.RCVHWM, 10_000)
    sock.setsockopt(zmq.MAXMSGSIZE, 32 * 1024 * 1024)


def parse_hostport(text: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """``HOST[:PORT]`` or ``[v6]:PORT``; ValueError names the text."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    if not host:
        raise ValueError(f"{text!r}: no host")
    try:
        number = int(port) if port else default_port
    except ValueError:
        raise ValueError(f"{text!r}: port {port!r} is not a number") from None
    if not 0 < number < 65536:
        raise ValueError(f"{text!r}: port {number} out of range")
    return host, number


def key_port(port: int) -> int:
    """The core's key service: its public key, in the clear, for trust on first use
    (a CURVE client must know the server's key before the handshake)."""
    return port + 1


def tcp(host: str, port: int) -> str:
    return f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"


def try_send(sock: Any, frames: list[Any], copy: bool = True) -> bool:
    """Send without waiting on a zmq.asyncio socket: its NOBLOCK send happens at once and
    returns a finished future; False if it could not go (no peer, queue full)."""
    fut = sock.send_multipart(frames, flags=zmq.NOBLOCK, copy=copy)
    return not fut.done() or fut.exception() is None
