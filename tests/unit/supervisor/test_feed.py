"""The events feed knows who listens: real XPUB/SUB sockets over ipc."""

from __future__ import annotations

from pathlib import Path

import zmq
from edgeos.ipc import protocol
from edgeos.supervisor.feed import Feed

from tests.unit.supervisor.fakes import FakeSystem


def test_subscriptions_are_tracked_and_messages_delivered(tmp_path: Path) -> None:
    ctx = zmq.Context()
    fake = FakeSystem()
    xpub = ctx.socket(zmq.XPUB)
    xpub.bind(f"ipc://{tmp_path}/ev.sock")
    feed = Feed(xpub, fake)
    sub = ctx.socket(zmq.SUB)
    sub.connect(f"ipc://{tmp_path}/ev.sock")
    try:
        assert not feed.wants("stats")
        sub.setsockopt(zmq.SUBSCRIBE, b"sta")
        assert xpub.poll(2000)
        fake.watched[xpub.getsockopt(zmq.FD)]()  # the loop saw the fd signal
        assert feed.wants("stats") and feed.wants("state") and not feed.wants("log.x")
        feed.publish("stats", {"n": 1})
        assert sub.poll(2000)
        topic, body = sub.recv_multipart()
        assert topic == b"stats" and protocol.unpack(body) == {"n": 1}
        sub.setsockopt(zmq.UNSUBSCRIBE, b"sta")
        assert xpub.poll(2000)
        fake.watched[xpub.getsockopt(zmq.FD)]()
        assert not feed.wants("stats")
    finally:
        sub.close(0)
        feed.close()
        ctx.term()
