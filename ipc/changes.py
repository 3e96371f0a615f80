"""Subscribing to datapoint changes published by the broker (``changes.sock``).

Each message is ``[topic, batch]`` where topic is ``b"<instance-id>."`` and the batch
is the list of ``[path, value, ts, quality, ack, unit]`` exactly as the worker sent it
(paths relative to the topic; the broker forwards it without re-packing); a blob adds a
third frame. :class:`ChangeFeed` turns them into absolute addresses.
ZeroMQ filters by topic prefix, so a subscriber to ``plc_001.`` never receives the
other instances' traffic; finer prefixes are filtered here.

On a standby core the broker also publishes the values that arrive by the HA mirror,
under the topic ``MIRRORED + "<instance-id>."``: the historian records them (and strips
the mark); :class:`ChangeFeed` passes them over, since this core did not take them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio
from edgeos.ipc import addresses, protocol

MIRRORED = "~"  # topic mark of a value a standby holds by the mirror (never an id's start)


class ChangeFeed:
    """Async iterator over change batches for a set of address prefixes."""

    def __init__(self, ctx: zmq.asyncio.Context, run_dir: Path | str,
                 prefixes: Iterable[str] = ("",)) -> None:
        self.sock = ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 10_000)
        self.sock.connect(addresses.endpoint(run_dir, addresses.CHANGES))
        self.prefixes: set[str] = set()
        for prefix in prefixes:
            self.subscribe(prefix)

    @staticmethod
    def _topic(prefix: str) -> bytes:
        # The topic is "<instance>." and the instance part of a prefix is unknown here
        # (ids may contain dots), so subscribe to the prefix up to its first dot.
        head = prefix.split(".", 1)[0]
        return head.encode()

    def subscribe(self, prefix: str) -> None:
        if prefix not in self.prefixes:
            self.prefixes.add(prefix)
            self.sock.setsockopt(zmq.SUBSCRIBE, self._topic(prefix))

    def unsubscribe(self, prefix: str) -> None:
        if prefix in self.prefixes:
            self.prefixes.discard(prefix)
            self.sock.setsockopt(zmq.UNSUBSCRIBE, self._topic(prefix))

    def _wanted(self, address: str) -> bool:
        return any(address.startswith(p) for p in self.prefixes)

    async def batches(self) -> AsyncIterator[list[list[Any]]]:
        """Yield lists of ``[address, value, ts, quality, ack, unit]`` for wanted prefixes."""
        while True:
            frames = await self.sock.recv_multipart()
            try:
                prefix = frames[0].decode()
                if prefix.startswith(MIRRORED):
                    continue
                batch = [[prefix + item[0], *item[1:6]] for item in protocol.unpack(frames[1])]
            except (ValueError, IndexError, TypeError):
                continue
            if "" not in self.prefixes:
                batch = [item for item in batch if self._wanted(item[0])]
            if batch:
                yield batch

    def close(self) -> None:
        self.sock.close(0)
