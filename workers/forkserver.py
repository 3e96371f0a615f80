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

from edgeos.ipc.detach import fork_detached
from edgeos.ipc.zygote import SPARE

MAX_REQUEST = 1 << 20  # a spec is a few KB; a bigger request is refused


def preload(type_name: str, target: str | None = None) -> None:
    """Import everything a worker of ``type_name`` imports, before any fork.

    ``target``: the type's ``module:Class`` as the supervisor knows it; without it, it
    is looked up here, which scans every installed distribution's entry points
    (importlib.metadata, email, zipfile, csv: ~3.7 MB of pages measured, shared with
    every worker of the type, issue 16)."""
    import asyncio  # noqa: F401

    import edgeos.ipc.child
    import edgeos.workers.__main__
    import edgeos.workers.runtime  # noqa: F401
    import zmq
    import zmq.asyncio  # noqa: F401
    from edgeos.workers import registry

    registry.load(target or registry.entry(type_name))


def fd_limit() -> int:
    limit = os.sysconf("SC_OPEN_MAX")
    return limit if limit < 65536 else 65536


def detach() -> None:
    """A worker's own session, default signals, stdin ``/dev/null``."""
    os.setsid()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)


def attach(request: dict[str, Any], out_fd: int, err_fd: int) -> int:
    """stdout/stderr the log pipes, no other fd, the worker's environment; then run it."""
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.closerange(3, fd_limit())
    os.environ.clear()
    os.environ.update(request["env"])
    from edgeos.workers.__main__ import run

    return run(request["spec"])  # sets PDEATHSIG; exits if the parent is not ours


def child(request: dict[str, Any], out_fd: int, err_fd: int) -> None:
    """The worker side of a fork, once it is the supervisor's child
    (:func:`~edgeos.ipc.detach.fork_detached`): own session, own fds, the spec; never
    returns."""
    code = 1
    try:
        detach()
        code = attach(request, out_fd, err_fd)
    except Exception:  # the worker's last word goes to its stderr
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def spare(type_name: str, fd: int) -> None:
    """A worker forked ahead of need (after a restart of its type): the supervisor's
    child already, detached, holding nothing but its socket ``fd``, it waits for a
    spec (the same request as the template's, sent by the supervisor itself) and runs
    it, so the next restart pays neither the double fork nor the template's and the
    supervisor's round trip (Android's unspecialised app process pool, in small).
    EOF (the supervisor dropped it or stopped) ends it. Never returns."""
    code = 0
    try:
        from edgeos.ipc.child import die_with_parent, set_title

        die_with_parent()
        set_title(f"edgeos: forkserver {type_name} (spare)")
        detach()
        os.closerange(3, fd)
        os.closerange(fd + 1, fd_limit())
        conn = socket.socket(fileno=fd)
        data, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, 2)
        os.close(conn.detach())
        if not data or len(fds) != 2:  # unused: end without flushing what the template
            os._exit(0)  # left in its buffers onto the template's stdout and stderr
        code = 1  # until the worker returns its own
        code = attach(json.loads(data), fds[0], fds[1])
    except Exception:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve(type_name: str, fd: int, target: str | None = None, tls: bool | None = None) -> int:
    """``tls``: the manifest's ``needs_tls`` (None: looked up); without it, ``ssl`` is
    kept out before anything imports asyncio, as the worker would."""
    if tls is None:
        from edgeos.workers import registry

        tls = registry.manifest(type_name).get("needs_tls") is not False
    if not tls:
        sys.modules["ssl"] = None  # type: ignore[assignment]
    from edgeos.ipc.child import die_with_parent, set_title

    die_with_parent()
    set_title(f"edgeos: forkserver {type_name}")
    preload(type_name, target)
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
        if data == SPARE and not fds:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            pid = fork_detached(sock, spare, type_name, theirs.fileno())
            theirs.close()
            socket.send_fds(sock, [str(pid).encode()], [ours.fileno()])
            ours.close()
            continue
        if len(fds) != 2:
            for extra in fds:
                os.close(extra)
            sock.sendall(b"-1")
            continue
        request = json.loads(data)
        pid = fork_detached(sock, child, request, fds[0], fds[1])
        for passed in fds:
            os.close(passed)
        sock.sendall(str(pid).encode())


def main(argv: list[str]) -> int:
    """``TYPE FD [ENTRY tls|no-tls]``: the supervisor names the type's ``module:Class``
    and whether it needs TLS, so the template need not look them up (see preload)."""
    if len(argv) == 4 and argv[3] in ("tls", "no-tls"):
        return serve(argv[0], int(argv[1]), argv[2], argv[3] == "tls")
    if len(argv) != 2:
        raise SystemExit(f"usage: python -m edgeos.workers.forkserver TYPE FD "
                         f"[ENTRY tls|no-tls], not {argv!r}")
    return serve(argv[0], int(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
