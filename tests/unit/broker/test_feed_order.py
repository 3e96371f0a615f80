"""The broker's send order in a drain (ipc/broker/broker.py): the routed commands go
out first, then the change feed, every message of it in the order it came.

A real Broker object with its real sockets (no supervisor: its link only connects); a
worker ``w`` and a target ``dst`` are real DEALER sockets, the change feed is read by a
real SUB socket. The sends are recorded by wrappers that pass each one on to the real
socket, so the order the broker chose is what the test sees.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import zmq
from edgeos.ipc import addresses, protocol
from edgeos.ipc.broker.broker import Broker
from edgeos.ipc.child import InstanceSpec


class Recorded:
    """A socket whose messages are noted in ``log`` (with ``name``) as their last part
    is sent, and sent."""

    def __init__(self, sock: zmq.Socket, name: str, log: list[str]) -> None:
        self.sock, self.name, self.log = sock, name, log

    def send(self, part: Any, flags: int = 0, **kwargs: Any) -> Any:
        if not flags & zmq.SNDMORE:
            self.log.append(self.name)
        return self.sock.send(part, flags, **kwargs)

    def send_multipart(self, parts: list[Any], *args: Any, **kwargs: Any) -> Any:
        self.log.append(self.name)
        return self.sock.send_multipart(parts, *args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.sock, attr)


def make_broker(tmp: Path) -> Broker:
    for d in ("run", "data", "config"):
        (tmp / d).mkdir()
    (tmp / "config" / "routing.json").write_text(json.dumps(
        {"version": "1.0", "routes": [{"id": "r", "from": "w.t", "to": "dst.q"}]}))
    spec = InstanceSpec(id="broker", type="broker", name="broker",
                        run_dir=str(tmp / "run"), data_dir=str(tmp / "data"),
                        config_dir=str(tmp / "config"),
                        extra={"instances": {"w": {"type": "simulator"},
                                             "dst": {"type": "simulator"}}})
    return Broker(spec)


def drain_until(broker: Broker, done: Any, timeout: float = 10) -> None:
    """Run the broker's drain whenever its worker socket has input, until ``done()``."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the broker did not deliver in time"
        if broker.workers.poll(50):
            broker.drain()
            assert broker.feed == [], "the change feed is published by every drain"


def test_commands_go_out_before_the_change_feed_which_keeps_its_order(
        tmp_path: Path) -> None:
    asyncio.run(_scenario(tmp_path))  # the broker's sockets need a loop


async def _scenario(tmp: Path) -> None:
    broker = make_broker(tmp)
    ctx = zmq.Context()
    run = Path(broker.spec.run_dir)
    w, dst, sub = ctx.socket(zmq.DEALER), ctx.socket(zmq.DEALER), ctx.socket(zmq.SUB)
    try:
        for sock, ident in ((w, b"w"), (dst, b"dst")):
            sock.setsockopt(zmq.IDENTITY, ident)
            sock.connect(addresses.endpoint(run, addresses.BROKER))
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(addresses.endpoint(run, addresses.CHANGES))
        log: list[str] = []
        broker.workers = Recorded(broker.workers, "commands", log)
        broker.changes = Recorded(broker.changes, "feed", log)

        # A subscription reaches the PUB socket some time after connect: until the
        # feed carries a first batch, send another.
        def subscribed() -> bool:
            log.clear()  # else every later try returns at once, without a drain
            w.send_multipart([protocol.DP, protocol.pack([["warm", 0, 0, "good", True, None]])])
            drain_until(broker, lambda: "feed" in log)
            return bool(sub.poll(100))
        deadline = time.monotonic() + 60  # a loaded full run needed more than 10 s
        while not subscribed():
            assert time.monotonic() < deadline, "the SUB socket never got the feed"
        while sub.poll(100):
            sub.recv_multipart()
        log.clear()

        w.send_multipart([protocol.DP, protocol.pack([["t", 1, 10, "good", True, None]])])
        w.send_multipart([protocol.BLOB, protocol.pack(["pic", 11, "good", True, None]),
                          b"\x89PNG"])
        w.send_multipart([protocol.DP, protocol.pack([["t", 2, 12, "good", True, None]])])
        feed: list[list[bytes]] = []

        def delivered() -> bool:
            while sub.poll(0):
                feed.append(sub.recv_multipart())
            return len(feed) == 3
        drain_until(broker, delivered)

        assert [protocol.unpack(parts[1])[0][1:3] for parts in feed] == [
            [1, 10], [{"blob_bytes": 4}, 11], [2, 12]], "the feed in the order it came"
        assert feed[1][2] == b"\x89PNG"
        assert all(parts[0] == b"w." for parts in feed)
        commands = []
        while len(commands) < 2 and dst.poll(5000):
            commands += protocol.unpack(dst.recv_multipart()[1])
        assert [c[:3] for c in commands] == [["q", 1, 10], ["q", 2, 12]]
        # the first drain's command went out before its batch on the change feed
        assert log[0] == "commands", f"the change feed went out first: {log}"
    finally:
        for sock in (w, dst, sub):
            sock.close(0)
        ctx.term()
        broker.values.close()
        for sock in (broker.workers, broker.ctl, broker.link.sock, broker.changes):
            sock.close(0)
        broker.ctx.term()
