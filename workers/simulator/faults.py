"""Misbehaviour on demand, so enforcement can be shown on a real process.

Each fault is a coroutine started beside the normal loop. ``hang`` blocks the event
loop itself (no heartbeats), ``hog`` burns CPU in slices so heartbeats still flow,
``leak`` grows resident memory (the bytes are written, so the pages are real),
``fork_bomb`` forks sleeping children until the kernel refuses (``pids.max``).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
KINDS = ("crash", "hang", "leak", "hog", "spam", "slow_stop", "fork_bomb")


class SimulatedCrash(RuntimeError):
    """Raised by the ``crash`` fault; the runtime reports it with its stack trace."""


def ignore_sigterm() -> None:
    """``slow_stop``: ignore SIGTERM so only SIGKILL ends the process."""
    asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


async def crash(after_s: float = 1.0, **_: Any) -> None:
    await asyncio.sleep(after_s)
    raise SimulatedCrash(f"simulated crash after {after_s} s")


async def hang(after_s: float = 1.0, **_: Any) -> None:
    await asyncio.sleep(after_s)
    log.warning("simulating a hang: blocking the event loop")
    while True:
        time.sleep(3600)  # deliberately blocks the loop: no heartbeats from here on


async def leak(mb_per_s: float = 20.0, after_s: float = 0.0, **_: Any) -> None:
    await asyncio.sleep(after_s)
    hoard: list[bytes] = []
    chunk = max(1, int(mb_per_s * 1024 * 1024 / 10))
    while True:
        hoard.append(os.urandom(16) * (chunk // 16))
        await asyncio.sleep(0.1)


async def hog(**_: Any) -> None:
    while True:
        end = time.perf_counter() + 0.02
        while time.perf_counter() < end:
            pass
        await asyncio.sleep(0)


async def fork_bomb(after_s: float = 0.5, **_: Any) -> None:
    """Fork children that only sleep, as fast as the kernel allows; log each refusal."""
    await asyncio.sleep(after_s)
    forked = refused = 0
    while True:
        try:
            pid = os.fork()
        except OSError as exc:  # EAGAIN: the task limit holds
            refused += 1
            if refused in (1, 100):
                log.warning("fork refused after %d children: %s", forked, exc)
            await asyncio.sleep(0.01)
            continue
        if pid == 0:  # plain sleeper: default signals, dies with the worker
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            time.sleep(600)
            os._exit(0)
        forked += 1
        await asyncio.sleep(0)


async def spam(publish: Callable[[int], None], pps: float = 2000.0, **_: Any) -> None:
    """Publish ``pps`` extra datapoints per second in 10 ms slices."""
    tick = 0.01
    carry = 0.0
    while True:
        carry += pps * tick
        n, carry = int(carry), carry - int(carry)
        publish(n)
        await asyncio.sleep(tick)
