"""The zygote's side: one template per node that forks the services and the templates.

The supervisor forks it from itself at start (:mod:`edgeos.supervisor.zygote`), before
it has a zmq context, a thread or an event loop, so the zygote begins with the pages of
everything the supervisor imported, shared copy-on-write. It adds the base every child
imports (zmq, msgpack, the child bootstrap, the worker runtime), freezes the collector
over all of it, and then forks on request:

* a service (``python -m edgeos.ipc.broker``, the uplink, the historian, ...): the child
  runs that module as ``__main__`` with its spec on stdin, as if it had been exec'd;
* a per-type worker template (``python -m edgeos.workers.forkserver TYPE 3``, its
  socket as fd 3), which then forks the workers of its type.

So the supervisor, the zygote and everything forked from it share one copy of the
interpreter's start-up state and of the common imports instead of one each (issue 16,
a lean satellite). A request is JSON on a SOCK_SEQPACKET socket (one message each, at
most :data:`MAX_REQUEST`) with the child's stdin, stdout and stderr attached and any
extra fds (they become 3, 4, ...); the answer is the child's pid (``-1``: refused).
The fork is double, as the worker templates do, so the child is the supervisor's
(a subreaper) and not ours. EOF on the socket ends the zygote.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import importlib
import json
import os
import runpy
import signal
import socket
import sys
from typing import Any, NoReturn

from edgeos.ipc.detach import fork_detached

MAX_REQUEST = 64 * 1024  # the environment and a few names; specs travel as stdin (memfd)
MAX_FDS = 4  # stdin, stdout, stderr and one extra (a template's socket)
SERVICES = frozenset({"edgeos.ipc.broker", "edgeos.ipc.satellite", "edgeos.ipc.historian",
                      "edgeos.ipc.ha"})  # none needs asyncio's TLS (the supervisor has none)
TEMPLATE = "edgeos.workers.forkserver"  # run as ``-m TEMPLATE TYPE 3``, the socket as fd 3
SPARE = b"spare"  # a template's request for a spare (a worker forked ahead of need)
RUNNABLE = SERVICES | {TEMPLATE}
BASE = ("asyncio", "zmq", "zmq.asyncio", "msgpack", "edgeos.ipc.child",
        "edgeos.workers.runtime", "edgeos.workers.__main__", TEMPLATE)
"""What every child imports. Named, not imported here: like ``python -m``, the zygote
runs these modules and does not use them itself (the worker side stays off ipc's
imports)."""

HEAVY = {"broker": "edgeos.ipc.broker.broker", "uplink": "edgeos.ipc.satellite.uplink",
         "satellite-gateway": "edgeos.ipc.satellite.gateway",
         "historian": "edgeos.ipc.historian.service", "ha-mirror": "edgeos.ipc.ha.mirror"}
"""The module each service role imports once its ``__main__`` runs."""


def preload(roles: list[str]) -> None:
    """What every child imports, and the modules of the services this node runs
    (``roles``), imported once here: a child that imports them itself pays for the
    import machinery's and the loader's work in its own pages (~3 MB measured) and
    keeps its own copy of the modules, one each (the supervisor has most of the base)."""
    for name in BASE:
        importlib.import_module(name)
    for role in roles:
        if role in HEAVY:
            # a broken install fails in the service itself, reported as its error
            with contextlib.suppress(ImportError):
                importlib.import_module(HEAVY[role])


def run_child(request: dict[str, Any], fds: list[int]) -> NoReturn:
    """The child's side once it is the supervisor's: its own session and fds, the
    environment it was given, then the service's ``__main__`` or the template."""
    code = 1
    try:
        os.setsid()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        for target, fd in enumerate(fds):
            os.dup2(fd, target)  # the request's fds are above these numbers (see serve)
        os.closerange(len(fds), _fd_limit())
        os.environ.clear()
        os.environ.update(request["env"])
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace",  # noqa: SIM115
                          closefd=False, buffering=1)  # line-buffered, as Python's own
        sys.argv = [request["module"], *request["args"]]
        if request["module"] == TEMPLATE:  # preloaded (BASE): run that module, where
            sys.exit(sys.modules[TEMPLATE].main(request["args"]))  # runpy would warn
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:  # how a ``__main__`` ends: sys.exit(main())
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # the child's last word goes to its stderr
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _fd_limit() -> int:
    return min(os.sysconf("SC_OPEN_MAX"), 65536)


def valid(request: Any, nfds: int) -> bool:
    """A request the supervisor could have sent: the right shape and fd count."""
    if not isinstance(request, dict) or not isinstance(request.get("env"), dict):
        return False
    args = request.get("args")
    return (request.get("module") in RUNNABLE and isinstance(args, list)
            and all(isinstance(a, str) for a in args)
            and nfds == (4 if request["module"] == TEMPLATE else 3))


def serve(sock: socket.socket, roles: list[str]) -> int:
    """Preload, say ``R``, then fork per request until EOF; a supervisor that has gone
    (it stopped at a start-up check: a second daemon, a bad state file) ends it too."""
    try:
        return _serve(sock, roles)
    except ConnectionError:  # its end closed: nothing to serve, nothing to say
        return 0


def _serve(sock: socket.socket, roles: list[str]) -> int:
    preload(roles)
    gc.collect()
    gc.freeze()  # neither our collections nor a child's write to the shared pages
    sock.sendall(b"R")
    while True:
        data, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST, MAX_FDS)
        if not data:
            return 0
        try:
            request = json.loads(data)
        except ValueError:
            request = None
        if not valid(request, len(fds)):
            pid = -1
        else:
            # above the numbers they get in the child, so no dup2 clobbers another
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, len(fds)) for fd in fds]
            for fd in fds:
                os.close(fd)
            fds = high
            pid = fork_detached(sock, run_child, request, fds)
        for fd in fds:
            os.close(fd)
        sock.sendall(str(pid).encode())

