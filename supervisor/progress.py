"""``edgectl reload``: wait as long as the daemon works on it, print its progress.

A long reload (many instances starting, a large routing.json) must not end in a client
time-out while the daemon is still busy (issue 17 item 4). The request is sent as
usual; meanwhile the client listens to the events feed: ``reload`` progress is printed
to stderr, and any event (``stats`` come at 1 Hz) shows the daemon is alive. Only when
neither an answer nor an event came for ``quiet_s`` seconds does it give up.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import zmq
from edgeos.ipc import protocol
from edgeos.ipc.rpc import UNAVAILABLE, RpcError, _result


def call_with_progress(endpoint: str, events: str, cmd: str, args: dict[str, Any],
                       quiet_s: float, out: TextIO = sys.stderr) -> Any:
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    dealer = ctx.socket(zmq.DEALER)
    try:
        for sock in (sub, dealer):
            sock.setsockopt(zmq.LINGER, 0)
        for topic in (b"reload", b"stats"):
            sub.setsockopt(zmq.SUBSCRIBE, topic)
        sub.connect(events)
        dealer.connect(endpoint)
        dealer.send(protocol.pack({"id": 1, "cmd": cmd, "args": args}))
        poller = zmq.Poller()
        poller.register(dealer, zmq.POLLIN)
        poller.register(sub, zmq.POLLIN)
        alive = time.monotonic()
        while time.monotonic() - alive < quiet_s:
            ready = dict(poller.poll(500))
            if dealer in ready:
                reply = protocol.unpack(dealer.recv())
                if reply.get("id") == 1:
                    return _result(reply)
            if sub in ready:
                topic, body = sub.recv_multipart()[:2]
                alive = time.monotonic()
                if topic == b"reload":
                    p = protocol.unpack(body)
                    print(f"edgectl: {cmd}: {p['phase']} {p['started']}/{p['total']} "
                          "instances", file=out, flush=True)
        raise RpcError(f"no answer to {cmd!r} and no sign of the daemon within "
                       f"{quiet_s:g} s", UNAVAILABLE)
    finally:
        sub.close(0)
        dealer.close(0)
        ctx.term()
