"""``python -m edgeos.workers.forkserver TYPE FD``: a pre-imported template for workers.

One per worker type, started by the supervisor (supervisor/forkserver.py). It imports
what a worker of that type needs (asyncio, zmq, msgpack, the runtime and the type's
module), says ``R`` on its socket (fd ``FD``), then forks a worker per request, so a
(re)start skips interpreter start-up and imports and the imported pages stay shared
copy-on-write. A request is the worker's spec and environment as JSON with its stdout
and stderr pipe ends attached (SCM_RIGHTS). The fork is double: the middle process
exits at once, so the worker is re-parented to the supervisor (a child subreaper),
which then waits for it like any child; the worker sets PDEATHSIG once its parent is
the supervisor. The answer is the worker's pid. EOF on the socket ends the template.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
from typing import Any

MAX_REQUEST = 1 << 20  # a spec is a few KB; a bigger request is refused


def preload(type_name: str) -> None:
    """Import everything a worker of ``type_name`` imports, before any fork."""
    from edgeos.workers import registry

    if registry.manifest(type_name).get("needs_tls") is False:
        sys.modules["ssl"] = None  # type: ignore[assignment]  # as the worker would
    import asyncio  # noqa: F401

    import edgeos.ipc.child
    import edgeos.workers.__main__
    import edgeos.workers.runtime  # noqa: F401
    import zmq
    import zmq.asyncio  # noqa: F401

    registry.load(registry.entry(type_name))


def child(sock: socket.socket, request: dict[str, Any], out_fd: int, err_fd: int,
          middle_gone: int) -> None:
    """The worker side of a fork: own session, own fds, the spec; never returns.

    ``middle_gone`` is the read end of a pipe whose only writer is the middle process:
    EOF on it means the middle has exited and we are the supervisor's child."""
    code = 1
    try:
        os.read(middle_gone, 1)  # blocks until the middle exits (an event, not a poll)
        os.close(middle_gone)
        os.close(sock.detach())  # no template object may close a reused fd number later
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.closerange(3, os.sysconf("SC_OPEN_MAX") if os.sysconf("SC_OPEN_MAX") < 65536
                      else 65536)
        os.environ.clear()
        os.environ.update(request["env"])
        from edgeos.workers.__main__ import run

        code = run(request["spec"])  # sets PDEATHSIG; exits if the parent is not ours
    except Exception:  # the worker's last word goes to its stderr
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve(type_name: str, fd: int) -> int:
    from edgeos.ipc.child import die_with_parent, set_title

    die_with_parent()
    set_title(f"edgeos: forkserver {type_name}")
    preload(type_name)
    # Nothing the template imported is ever garbage: keep the collector off its
    # objects, so neither it nor a worker's collections write to (and so copy) the
    # shared pages after a fork (the workers' PSS and the page faults of a restart).
    gc.collect()
    gc.freeze()
    sock = socket.socket(fileno=fd)
    sock.sendall(b"R")
    while True:
        data, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST, 2)
        if not data:
            return 0
        if len(fds) != 2:
            for extra in fds:
                os.close(extra)
            sock.sendall(b"-1")
            continue
        request = json.loads(data)
        read_end, write_end = os.pipe()
        middle = os.fork()
        if middle == 0:
            os.close(read_end)
            gone_r, gone_w = os.pipe()  # the middle holds gone_w until it exits
            pid = os.fork()
            if pid == 0:
                os.close(write_end)
                os.close(gone_w)
                child(sock, request, fds[0], fds[1], gone_r)
            os.write(write_end, str(pid).encode())
            os._exit(0)
        os.close(write_end)
        for passed in fds:
            os.close(passed)
        os.waitpid(middle, 0)  # once it is reaped, the worker is the supervisor's child
        with os.fdopen(read_end, "rb") as fh:
            answer = fh.read() or b"-1"
        sock.sendall(answer)


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], int(sys.argv[2])))
