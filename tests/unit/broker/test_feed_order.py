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


class Rig:
    """The broker, a worker ``w``, a target ``dst`` and a SUB socket on the change feed
    (connected by :meth:`subscribe`); the broker's sends are noted in ``log``."""

    def __init__(self, tmp: Path) -> None:
        self.broker = make_broker(tmp)
        self.ctx = zmq.Context()
        self.run = Path(self.broker.spec.run_dir)
        self.w, self.dst = self.ctx.socket(zmq.DEALER), self.ctx.socket(zmq.DEALER)
        self.sub = self.ctx.socket(zmq.SUB)
        for sock, ident in ((self.w, b"w"), (self.dst, b"dst")):
            sock.setsockopt(zmq.IDENTITY, ident)
            sock.connect(addresses.endpoint(self.run, addresses.BROKER))
        self.log: list[str] = []
        self.broker.workers = Recorded(self.broker.workers, "commands", self.log)
        self.broker.changes = Recorded(self.broker.changes, "feed", self.log)

    def send(self, path: str, value: Any, ts: int) -> None:
        self.w.send_multipart([protocol.DP, protocol.pack([[path, value, ts, "good", True,
                                                            None]])])

    def subscribe(self) -> None:
        """Connect the SUB socket and wait until it gets the feed; then empty it and
        ``log``.

        A subscription reaches the PUB socket some time after connect, and PUB drops
        what it sends before (the slow joiner), so each round publishes a batch of its
        own. Waiting for *a* send to the feed instead stopped draining after the first
        round: when that batch went out before the subscription (a loaded machine),
        nothing was published again and the SUB socket got nothing for 60 s.
        """
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(addresses.endpoint(self.run, addresses.CHANGES))
        deadline = time.monotonic() + 20
        while True:
            sent = self.log.count("feed")
            self.send("warm", 0, 0)
            drain_until(self.broker, lambda sent=sent: self.log.count("feed") > sent)
            if self.sub.poll(100):
                break
            assert time.monotonic() < deadline, "the SUB socket never got the feed"
        while self.sub.poll(100):
            self.sub.recv_multipart()
        self.log.clear()

    def close(self) -> None:
        for sock in (self.w, self.dst, self.sub):
            sock.close(0)
        self.ctx.term()
        broker = self.broker
        broker.values.close()
        for sock in (broker.workers, broker.ctl, broker.changes):
            sock.close(0)
        broker.link.close(0)
        broker.ctx.term()


def test_commands_go_out_before_the_change_feed_which_keeps_its_order(
        tmp_path: Path) -> None:
    asyncio.run(_scenario(tmp_path))  # the broker's sockets need a loop


async def _scenario(tmp: Path) -> None:
    rig = Rig(tmp)
    broker, w, dst, sub, log = rig.broker, rig.w, rig.dst, rig.sub, rig.log
    try:
        rig.subscribe()

        rig.send("t", 1, 10)
        w.send_multipart([protocol.BLOB, protocol.pack(["pic", 11, "good", True, None]),
                          b"\x89PNG"])
        rig.send("t", 2, 12)
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
        rig.close()


def test_a_subscriber_that_connects_after_the_first_batches_gets_the_feed(
        tmp_path: Path) -> None:
    """The slow joiner made certain: batches went out on the feed before the SUB socket
    connected (PUB drops them); the subscriber still gets every batch from then on."""
    asyncio.run(_late_subscriber(tmp_path))


async def _late_subscriber(tmp: Path) -> None:
    rig = Rig(tmp)
    try:
        for ts in (1, 2):
            rig.send("t", ts, ts)
        drain_until(rig.broker, lambda: rig.log.count("feed") == 2)
        rig.subscribe()
        rig.send("t", 3, 3)
        feed: list[list[bytes]] = []

        def delivered() -> bool:
            while rig.sub.poll(0):
                feed.append(rig.sub.recv_multipart())
            return bool(feed)
        drain_until(rig.broker, delivered)
        assert [protocol.unpack(parts[1])[0][1] for parts in feed] == [3]
    finally:
        rig.close()
