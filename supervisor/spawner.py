"""Starting many instances at a bounded rate, cancellable, with progress on the events
feed (issue 17 item 4).

A reload that adds hundreds of instances used to start them all at once, so memory and
CPU ran out before anything could be stopped. Now they start ``BATCH`` at a time, each
batch once the previous one is past ``starting``; ``edgectl reload --cancel`` stops
before the next batch (the rest stay configured and stopped, ``edgectl start`` starts
them); every batch publishes ``reload`` progress, which ``edgectl reload`` prints.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from edgeos.ipc import protocol
from edgeos.supervisor.process import Instance, State

BATCH = 8  # instances starting at the same time
WaitFor = Callable[[Instance, Callable[[Instance], bool], float], Awaitable[bool]]


class Spawner:
    """Given the arbiter's ``wait_for`` and ``publish`` (not the arbiter: it stays a
    piece the arbiter's unit tests run as it is)."""

    def __init__(self, wait_for: WaitFor, publish: Callable[[str, Any], None]) -> None:
        self.wait_for = wait_for
        self.publish = publish
        self.running = False
        self._cancelled = False

    async def start(self, instances: list[Instance], reason: str) -> list[str]:
        """Start ``instances`` BATCH at a time; returns the ids left stopped by a cancel."""
        self.running, self._cancelled = True, False
        total = len(instances)
        try:
            for first in range(0, total, BATCH):
                if self._cancelled:
                    left = [i.id for i in instances[first:]]
                    self._progress("cancelled", first, total)
                    return left
                batch = instances[first:first + BATCH]
                for inst in batch:
                    inst.start(reason)
                await asyncio.gather(*(self.wait_for(
                    i, lambda i: i.state != State.STARTING, i.READY_TIMEOUT_S) for i in batch))
                self._progress("starting", first + len(batch), total)
            return []
        finally:
            self.running = False

    def cancel(self) -> bool:
        """Stop before the next batch; False when nothing is being started."""
        if self.running:
            self._cancelled = True
        return self.running

    def _progress(self, phase: str, done: int, total: int) -> None:
        self.publish("reload", {"phase": phase, "started": done, "total": total,
                                        "ts": protocol.now_ms()})
