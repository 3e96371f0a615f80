"""The thread hops around pyads: ordered calls off the event loop, notifications onto it,
and the reconnect back-off."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from edgeos.workers.ads.connection import AdsLink, AdsTarget, AdsThread, Backoff, Inbox, LinkError


def test_backoff_doubles_to_its_cap_and_resets() -> None:
    backoff = Backoff(0.5, 5)
    assert [backoff.next() for _ in range(6)] == [0.5, 1, 2, 4, 5, 5]
    backoff.reset()
    assert backoff.next() == 0.5


def test_ads_thread_runs_calls_in_order_off_the_loop() -> None:
    asyncio.run(_ads_thread_runs_calls_in_order_off_the_loop())


async def _ads_thread_runs_calls_in_order_off_the_loop() -> None:
    worker = AdsThread("t")
    seen: list[tuple[int, str]] = []
    loop_thread = threading.get_ident()

    def job(n: int) -> int:
        time.sleep(0.01 if n == 0 else 0)
        seen.append((n, "loop" if threading.get_ident() == loop_thread else "worker"))
        return n * 10

    results = await asyncio.gather(*(worker.call(job, n) for n in range(5)))
    assert results == [0, 10, 20, 30, 40]
    assert seen == [(n, "worker") for n in range(5)]
    with pytest.raises(LinkError, match="boom"):
        await worker.call(_raise)
    assert await worker.call(job, 7) == 70  # an error does not stop the thread
    worker.close()


def _raise() -> None:
    raise LinkError("boom")


def test_ads_thread_keeps_the_loop_free_while_a_call_blocks() -> None:
    asyncio.run(_ads_thread_keeps_the_loop_free_while_a_call_blocks())


async def _ads_thread_keeps_the_loop_free_while_a_call_blocks() -> None:
    worker = AdsThread("t")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    await worker.call(time.sleep, 0.3)
    task.cancel()
    assert ticks >= 10
    worker.close()


def test_inbox_delivers_every_push_from_other_threads_in_order() -> None:
    asyncio.run(_inbox_delivers_every_push_from_other_threads_in_order())


async def _inbox_delivers_every_push_from_other_threads_in_order() -> None:
    got: list[tuple[int, int]] = []
    inbox = Inbox(asyncio.get_running_loop(), lambda src, n: got.append((src, n)))

    def producer(src: int) -> None:
        for n in range(5000):
            inbox.push(src, n)

    threads = [threading.Thread(target=producer, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads) or len(got) < 20000:
        await asyncio.sleep(0.01)
    assert len(got) == 20000
    for src in range(4):
        assert [n for s, n in got if s == src] == list(range(5000))


def test_requests_without_a_connection_fail_cleanly() -> None:
    link = AdsLink(AdsTarget("127.0.0.9.1.1", 851, "127.0.0.9", timeout_s=0.2))
    with pytest.raises(LinkError, match="not connected"):
        link.read(0x4020, 0, 4)
    with pytest.raises(LinkError, match=r"cannot reach 127\.0\.0\.9:48898"):
        link.open()
    link.close()  # nothing to close: no error
