"""A child without rates (the admin UI) looks at its counters once per ``heartbeat_s``
rather than each second: it wakes no more often than it beats, and still beats (over
the real supervisor link)."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path

import zmq
import zmq.asyncio
from edgeos.ipc import addresses, protocol
from edgeos.ipc.child import InstanceSpec, SupervisorLink


async def _scenario(run: Path, interval: float | None) -> tuple[int, int]:
    ctx = zmq.asyncio.Context()
    supervisor = addresses.bind(ctx.socket(zmq.ROUTER), run, addresses.SUPERVISOR)
    spec = InstanceSpec(id="ui", type="admin-ui", limits={"heartbeat_s": 1}, run_dir=str(run))
    link = SupervisorLink(ctx, spec)
    looks = 0

    def counters() -> dict[str, int]:
        nonlocal looks
        looks += 1
        return {"websockets": 0}

    task = asyncio.create_task(link.heartbeat_loop(counters, interval))
    beats = 0
    try:
        end = asyncio.get_running_loop().time() + 2.5
        while (left := end - asyncio.get_running_loop().time()) > 0:
            if await supervisor.poll(int(left * 1000) + 1):
                _, kind, _ = await supervisor.recv_multipart()
                beats += kind == protocol.HEARTBEAT
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        link.sock.close(0)
        supervisor.close(0)
        ctx.term()
    return looks, beats


def test_looks_once_per_heartbeat_s_when_told_and_still_beats() -> None:
    with tempfile.TemporaryDirectory(prefix="eo-") as run:
        looks, beats = asyncio.run(_scenario(Path(run), 1.0))
    assert 1 <= beats <= looks <= 4  # (by default: every 1/3 s, about 8 looks)
