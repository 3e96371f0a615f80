"""The historian reads the change feed at most once per READ_PACE_S: a change after a
quiet spell at once, a stream of them together, none lost; when it stops listening it
reads what the pace left in the socket and leaves nothing scheduled."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import zmq
from edgeos.ipc import protocol
from edgeos.ipc.historian import service

from tests.unit.historian.feed import historian_on_a_feed

PACE_S = 0.5


def test_a_stream_is_read_per_pace_a_lone_change_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "READ_PACE_S", PACE_S)

    async def scenario() -> tuple[list[int], list[int], bool]:
        loop = asyncio.get_running_loop()
        async with historian_on_a_feed(tmp_path) as (h, pub):
            reads: list[int] = []  # rows after each drain that read something
            drain = h._drain

            def counted() -> None:
                before = len(h.rows)
                drain()
                if len(h.rows) > before:
                    reads.append(len(h.rows))
            h._drain = counted  # type: ignore[method-assign]
            h.listen()

            async def rows(count: int) -> None:
                for _ in range(500):
                    if len(h.rows) >= count:
                        return
                    await asyncio.sleep(0.01)
                raise AssertionError(f"{len(h.rows)} rows of {count}")

            await asyncio.sleep(PACE_S)  # a quiet spell
            t0 = loop.time()
            send(pub, 0)
            await rows(1)
            alone = [len(reads), round(loop.time() - t0 < PACE_S)]
            for n in range(1, 11):  # ten changes within the pace that follows
                send(pub, n)
                await asyncio.sleep(0.01)
            await rows(11)
            stream = list(reads)
            send(pub, 11)  # one more within a pace: its read is scheduled, and ...
            await asyncio.sleep(0.05)
            h.stop_listening()  # ... done at once, nothing left scheduled
            read_at_stop = len(h.rows) == 12
            send(pub, 12)
            await asyncio.sleep(PACE_S + 0.1)
            stopped = read_at_stop and len(h.rows) == 12 and h._resume_at is None
        return alone, stream, stopped

    alone, stream, stopped = asyncio.run(scenario())
    assert alone == [1, 1]  # read in the first drain, before a pace was over
    assert stream[0] == 1 and stream[-1] == 11 and len(stream) <= 3  # not one read each
    assert stopped


def send(pub: zmq.Socket, n: int) -> None:
    pub.send_multipart([b"sim.", protocol.pack([[f"p{n}", float(n), 1_000 + n]])])
