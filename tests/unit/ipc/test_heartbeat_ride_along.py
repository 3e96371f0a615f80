"""A child's own totals ride along over the real supervisor link: a total growing at
every look (``packets_recv`` in ``bus``, as every device worker reports) sends nothing
between the period's beats, a new error count still beats at once (ipc/heartbeat.py)."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio
from edgeos.ipc import addresses, protocol
from edgeos.ipc.child import InstanceSpec, SupervisorLink
from edgeos.workers.runtime import TRAFFIC_TOTALS

LOOK_S = 0.1


async def _beats(run: Path, ride_along: frozenset[str], error_at: int | None) -> int:
    ctx = zmq.asyncio.Context()
    supervisor = addresses.bind(ctx.socket(zmq.ROUTER), run, addresses.SUPERVISOR)
    spec = InstanceSpec(id="w", type="modbus", limits={"heartbeat_s": 1}, run_dir=str(run))
    link = SupervisorLink(ctx, spec)
    looks = 0

    def counters() -> dict[str, Any]:
        nonlocal looks
        looks += 1
        errors = int(error_at is not None and looks >= error_at)
        return {"pps_in": 0.0, "error_count": errors,
                "bus": {"packets_recv": 100 * looks, "packets_sent": 100 * looks}}

    task = asyncio.create_task(link.heartbeat_loop(counters, LOOK_S, ride_along))
    beats = 0
    try:
        end = asyncio.get_running_loop().time() + 2.0
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
    return beats


def run(ride_along: frozenset[str], error_at: int | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="eo-") as tmp:
        return asyncio.run(_beats(Path(tmp), ride_along, error_at))


def test_growing_totals_ride_along_an_error_still_beats_at_once() -> None:
    # 20 looks over 2 s, heartbeat_s 1: the period's beats only (2 or 3)
    assert 2 <= run(TRAFFIC_TOTALS) <= 3
    assert 3 <= run(TRAFFIC_TOTALS, error_at=5) <= 4  # one more, for the error
    assert run(frozenset()) >= 8  # compared like counts, the totals beat at most looks
