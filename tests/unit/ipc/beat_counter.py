"""The real supervisor link's heartbeat loop, counted from the supervisor's end: how
many heartbeats a child sends over a span (tests of ipc/child.py's pacing), on the
worker channel and the steady beats' file together."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio
from edgeos.ipc import addresses, protocol, steady_beats
from edgeos.ipc.child import InstanceSpec, SupervisorLink


async def count_beats(run: Path, kind: str, counters: Callable[[], dict[str, Any]],
                      span_s: float, *loop_args: Any) -> int:
    """Run ``SupervisorLink.heartbeat_loop(counters, *loop_args)`` of a child of type
    ``kind`` (heartbeat_s 1) for ``span_s``; the heartbeats the supervisor got."""
    ctx = zmq.asyncio.Context()
    supervisor = addresses.bind(ctx.socket(zmq.ROUTER), run, addresses.SUPERVISOR)
    steady_beats.make_dir(run)
    poller = zmq.asyncio.Poller()
    poller.register(supervisor, zmq.POLLIN)
    spec = InstanceSpec(id="w", type=kind, limits={"heartbeat_s": 1}, run_dir=str(run))
    link = SupervisorLink(ctx, spec)
    task = asyncio.create_task(link.heartbeat_loop(counters, *loop_args))
    beats = 0
    try:
        end = asyncio.get_running_loop().time() + span_s
        while (left := end - asyncio.get_running_loop().time()) > 0:
            for sock, _ in await poller.poll(int(left * 1000) + 1):
                _, msg_kind, *_ = await sock.recv_multipart()
                beats += msg_kind == protocol.HEARTBEAT
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        link.close(0)
        supervisor.close(0)
        ctx.term()
    path = steady_beats.beat_path(run, "w")
    assert path is not None
    steady = steady_beats.read_beat(path)
    return beats + (steady.seq if steady else 0)  # (the file's last: the count written)
