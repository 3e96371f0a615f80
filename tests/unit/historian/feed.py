"""A real Historian (store, policy, writer thread) whose change feed is a SUB socket on
an inproc PUB the test sends on: what the ingest tests share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import zmq
from edgeos.ipc.child import InstanceSpec
from edgeos.ipc.historian import service
from edgeos.ipc.historian.policy import Policy
from edgeos.ipc.historian.store import HistoryStore


@contextlib.asynccontextmanager
async def historian_on_a_feed(data: Path) -> AsyncIterator[tuple[service.Historian,
                                                                 zmq.Socket]]:
    """The historian (every change recorded: ``min_interval_s`` 0) and the PUB of its
    feed, subscribed; all closed after, the writer thread first."""
    spec = InstanceSpec(id="historian", type="historian", run_dir=str(data),
                        data_dir=str(data), extra={"history": {"min_interval_s": 0}})
    h = service.Historian(spec)
    h.store = HistoryStore(data, h.settings)
    h.policy = Policy(h.settings, h.store.series_id)
    pub = h.ctx.socket(zmq.PUB)
    pub.bind("inproc://changes")
    h.changes = zmq.Socket(h.ctx, zmq.SUB)
    h.changes.connect("inproc://changes")
    h.changes.setsockopt(zmq.SUBSCRIBE, b"")
    await asyncio.sleep(0.05)  # the subscription reaches the PUB
    try:
        yield h, pub
    finally:
        h.db.shutdown(wait=True)
        h.store.close()
        pub.close(0)
        h.changes.close(0)
        h.link.close()
        h.ctx.destroy(linger=0)
