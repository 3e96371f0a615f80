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
from typing import TYPE_CHECKING

from edgeos.ipc import protocol
from edgeos.supervisor.process import Instance, State

if TYPE_CHECKING:
    from edgeos.supervisor.arbiter import Arbiter

BATCH = 8  # instances starting at the same time


class Spawner:
    def __init__(self, arbiter: Arbiter) -> None:
        self.arbiter = arbiter
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
                await asyncio.gather(*(self.arbiter.wait_for(
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
        self.arbiter.publish("reload", {"phase": phase, "started": done, "total": total,
                                        "ts": protocol.now_ms()})
