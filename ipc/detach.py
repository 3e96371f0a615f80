"""The double fork of the templates (workers/forkserver.py) and the zygote (ipc/zygote.py).

A template forks a child through a middle process that exits at once, so the child is
re-parented to the supervisor (a child subreaper), which then waits for it like any
child it started itself. The child goes on only once the middle is gone: its pidfd
(opened by the middle on itself) turns readable (an event, not a poll), so its parent
is the supervisor when it asks for PDEATHSIG. Not EOF on a pipe the middle holds: the
kernel closes a dying process's files before it re-parents its children, so a child
that woke on EOF could still see the middle as its parent, take the supervisor for
gone and exit 0 (seen under load as workers "crashed (exit 0)" at start, issue 16);
a pidfd is readable only once the exit, re-parenting included, is done.
"""

from __future__ import annotations

import os
import select
import socket
import sys
from collections.abc import Callable
from typing import Any


def fork_detached(sock: socket.socket, child: Callable[..., object], *args: Any) -> int:
    """Run ``child(*args)`` in a grandchild that the supervisor inherits; its pid, or -1.

    ``sock`` (the template's socket) is detached in the child first, so no object of
    the template closes a reused fd number later. The child never returns into the
    template's loop: whatever ``child`` does, the process ends there."""
    read_end, write_end = os.pipe()
    sys.stdout.flush()  # what the template wrote stays its own: a child that inherited
    sys.stderr.flush()  # it unflushed would write it into its log at a clean exit
    middle = os.fork()
    if middle == 0:
        try:
            os.close(read_end)
            middle_fd = os.pidfd_open(os.getpid())  # readable once the middle is gone
            pid = os.fork()
            if pid == 0:
                try:
                    os.close(write_end)
                    gone = select.poll()
                    gone.register(middle_fd, select.POLLIN)
                    gone.poll()
                    os.close(middle_fd)
                    os.close(sock.detach())
                    child(*args)
                finally:
                    os._exit(1)
            os.write(write_end, str(pid).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(middle, 0)  # once it is reaped, the child is the supervisor's
    with os.fdopen(read_end, "rb") as fh:
        answer = fh.read()
    return int(answer) if answer else -1
