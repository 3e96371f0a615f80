"""The zygote's request checks and the supervisor handle's bounds, without forking
(forking pytest itself, with its threads, is not what the daemon does; the forks are
checked on real daemons in tests/integration/enforcement/test_zygote.py)."""

from __future__ import annotations

import json
import os
import socket

import pytest
from edgeos.ipc import zygote as child_side
from edgeos.supervisor.zygote import Zygote


def test_only_the_requests_the_supervisor_sends_are_served() -> None:
    service = {"module": "edgeos.ipc.broker", "args": [], "env": {}}
    template = {"module": "edgeos.workers.forkserver", "args": ["simulator", "3"], "env": {}}
    assert child_side.valid(service, 3)
    assert child_side.valid(template, 4)
    assert not child_side.valid(service, 4)  # fds: stdin, stdout, stderr; + a socket
    assert not child_side.valid(template, 3)
    assert not child_side.valid({**service, "module": "os"}, 3)  # services only
    assert not child_side.valid({**service, "module": "edgeos.workers"}, 3)
    assert not child_side.valid({**service, "env": None}, 3)
    assert not child_side.valid({**service, "args": "x"}, 3)
    assert not child_side.valid({**template, "args": ["simulator", 3]}, 4)
    assert not child_side.valid([service], 3)


def test_an_oversized_request_is_exec_not_a_broken_zygote() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    handle = Zygote(os.getpid(), ours)  # any live pid: nothing is signalled here
    big = {"module": "edgeos.ipc.broker", "args": [],
           "env": {"X": "y" * child_side.MAX_REQUEST}}
    assert handle.fork(big, []) is None
    assert not handle.broken
    theirs.setblocking(False)
    with pytest.raises(BlockingIOError):  # nothing went out
        theirs.recv(16)
    theirs.close()
    ours.close()
    os.close(handle.pidfd)


def test_a_zygote_that_answers_nonsense_is_given_up() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    handle = Zygote(os.getpid(), ours)
    theirs.sendall(b"R")
    theirs.sendall(b"nonsense")
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        assert handle.fork({"module": "edgeos.workers.forkserver", "args": ["simulator", "3"],
                            "env": {}}, [null, null, null, null]) is None
    finally:
        os.close(null)
    assert handle.broken
    data, fds, _, _ = socket.recv_fds(theirs, 1024, 4)
    assert json.loads(data)["args"] == ["simulator", "3"] and len(fds) == 4
    for fd in fds:
        os.close(fd)
    theirs.close()
    ours.close()
    os.close(handle.pidfd)
