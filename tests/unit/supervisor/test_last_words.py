"""A child's last ERROR counts, however its exit and the message race.

A crashing worker sends its ERROR on the worker channel and exits. The kernel's exit
(the pidfd) can reach the supervisor before the channel's fd turns readable: the
exit used to be acted on first (restart or give up), and the ERROR, arriving for an
instance with no process, was dropped, so the error count and the Errors page lacked
the crash's traceback (seen in CI as a count of 1 after two crashes). The arbiter on
the fake seam, with a real ZeroMQ worker channel and a real child-side socket.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import zmq
from edgeos.ipc import addresses, protocol
from edgeos.supervisor.process import State

from tests.unit.supervisor.fake_parts import World, sim


@pytest.fixture
def world(world: World) -> World:
    """conftest's World with the worker channel bound (it closes it too)."""
    arbiter = world.arbiter
    arbiter.channel = addresses.bind(zmq.Socket(arbiter.ctx, zmq.ROUTER), world.paths.run,
                                     addresses.SUPERVISOR)
    arbiter.channel.setsockopt(zmq.LINGER, 0)
    return world


def child_socket(world: World, iid: str) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.IDENTITY, iid.encode())
    sock.connect(addresses.endpoint(world.paths.run, addresses.SUPERVISOR))
    return sock


def queued(sock: zmq.Socket) -> None:
    """Wait until a message is in ``sock``'s queue, without reading it (the arbiter's
    fd callback has not run: the exit comes first)."""
    deadline = time.monotonic() + 5
    while not sock.get(zmq.EVENTS) & zmq.POLLIN:
        assert time.monotonic() < deadline, "the child's message never arrived"
        time.sleep(0.001)


def crash_error(message: str) -> list[bytes]:
    return [protocol.ERROR, protocol.pack({"message": message, "traceback": "Traceback ...",
                                           "fatal": True, "ts": protocol.now_ms()})]


def test_an_error_sent_before_the_exit_is_counted_before_the_state_changes(
        world: World) -> None:
    async def scenario() -> None:
        world.write_connections(sim("a"))
        await world.arbiter.start(world.arbiter.load())
        await asyncio.sleep(0)
        inst = world.arbiter.instances["a"]
        assert inst.state == State.RUNNING
        child = child_socket(world, "a")
        try:
            child.send_multipart(crash_error("SimulatedCrash: boom"))
            queued(world.arbiter.channel)
            assert inst.pid is not None
            world.sys.exit(inst.pid, 1)  # the pidfd before the channel's fd
        finally:
            child.close(0)

    asyncio.run(scenario())
    inst = world.arbiter.instances["a"]
    order = [e[2] if e[0] == "error" else e[3] for e in world.journal
             if e[:2] in (("error", "a"), ("log", "a"))]  # (log: id, level, line)
    assert order.index("SimulatedCrash: boom") < order.index(
        "state running -> starting: crashed (exit 1)")
    assert inst.error_count == 2  # its ERROR, then the unexpected exit
    assert inst.last_error.startswith("exited unexpectedly")


def test_an_error_that_arrives_after_the_exit_still_counts(world: World) -> None:
    async def scenario() -> None:
        world.write_connections(sim("a"))
        await world.arbiter.start(world.arbiter.load())
        await asyncio.sleep(0)
        inst = world.arbiter.instances["a"]
        for _ in range(2):  # the second fast crash waits in back-off: no process
            await asyncio.sleep(0)
            assert inst.pid is not None
            world.sys.exit(inst.pid, 1)
        assert inst.state == State.BACKOFF and inst.pid is None
        child = child_socket(world, "a")
        try:
            child.send_multipart(crash_error("SimulatedCrash: late"))
            queued(world.arbiter.channel)
            world.arbiter._drain_channel()  # what the fd callback does
        finally:
            child.close(0)

    asyncio.run(scenario())
    stored = [e[2] for e in world.journal if e[0] == "error"]
    assert "SimulatedCrash: late" in stored
    assert world.arbiter.instances["a"].last_error == "SimulatedCrash: late"
