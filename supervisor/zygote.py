"""Fork the node's zygote from the supervisor at start (its side: ipc/zygote.py).

Every child used to start a new interpreter and import asyncio, zmq and msgpack again:
about 12 MB of private memory per process, five times on a satellite (issue 16). The
supervisor now forks ``edgeos: zygote`` from itself once in ``main``, after the
start-up checks and before a thread, a zmq context or an event loop exists, after
freezing the collector over what it imported, and the services and per-type worker
templates are forked from the zygote: all of them share the supervisor's pages
copy-on-write. ``EDGEOS_FORKSERVER=off``: no zygote, everything is exec'd as before.
A zygote that fails means exec from then on.

The zygote is its own session (a signal to the supervisor's group does not reach it),
dies with the supervisor (PDEATHSIG) and ends at EOF on its socket.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import signal
import socket
import sys

from edgeos.ipc.zygote import MAX_REQUEST

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 10.0  # its first answer: the imports of a slow Pi Zero included
ANSWER_TIMEOUT_S = 2.0  # a fork is milliseconds


class Zygote:
    """The supervisor's handle: its pid and the socket it takes requests on."""

    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)  # signals reach it, never a reused pid
        self.sock = sock
        self.ready = False
        self.broken = False

    def fork(self, request: dict[str, object], fds: list[int]) -> int | None:
        """Send one request with ``fds``; the child's pid, or None: exec it (and when
        the zygote failed, ``broken``: never ask again; the owner then closes it)."""
        data = json.dumps(request).encode()
        if self.broken or len(data) > MAX_REQUEST:  # too big (its environment): exec it
            return None
        try:
            if not self.ready:
                self.sock.settimeout(READY_TIMEOUT_S)
                if self.sock.recv(1) != b"R":
                    raise OSError("zygote did not start")
                self.ready = True
                self.sock.settimeout(ANSWER_TIMEOUT_S)
            socket.send_fds(self.sock, [data], fds)
            answer = self.sock.recv(32)
            pid = int(answer or b"-1")
            if pid <= 0:
                raise OSError(f"zygote answered {answer!r}")
        except (OSError, ValueError) as exc:
            log.warning("zygote failed (%s); services are exec'd from now on", exc)
            self.broken = True
            return None
        return pid

    def close(self) -> None:
        """End it (idle, nothing to save: no grace, also when it hangs) and wait for it."""
        if self.pidfd < 0:
            return
        self.broken = True
        self.sock.close()
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        os.close(self.pidfd)
        self.pidfd = -1


_current: Zygote | None = None


def current() -> Zygote | None:
    """The zygote of this supervisor, if it has one that works."""
    return _current if _current is not None and not _current.broken else None


def start(roles: list[str]) -> Zygote | None:
    """Fork the zygote (unless ``EDGEOS_FORKSERVER=off``); call before any thread.
    ``roles``: the services this node runs, whose modules the zygote imports once."""
    global _current
    if os.environ.get("EDGEOS_FORKSERVER") == "off":
        return None
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    supervisor = os.getpid()
    gc.collect()
    gc.freeze()  # what we imported stays out of our collections: its pages stay shared
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the zygote; tests see it through /proc
        ours.close()
        _become_zygote(theirs, supervisor, roles)
    theirs.close()
    _current = Zygote(pid, ours)
    return _current


def _become_zygote(sock: socket.socket, supervisor: int, roles: list[str]) -> None:
    code = 1
    try:
        from edgeos.ipc import zygote
        from edgeos.ipc.child import set_title

        os.setsid()
        _die_with(supervisor)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        keep = sock.fileno()
        os.closerange(3, keep)
        os.closerange(keep + 1, min(os.sysconf("SC_OPEN_MAX"), 65536))
        set_title("edgeos: zygote")
        code = zygote.serve(sock, roles)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def _die_with(supervisor: int) -> None:
    """PDEATHSIG, and exit if the supervisor is already gone."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != supervisor:
        os._exit(0)
