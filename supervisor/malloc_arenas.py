"""One malloc arena for the supervisor (issue 16, RSS).

glibc gives each thread that allocates its own arena. The supervisor's only other
threads are ZeroMQ's I/O and reaper threads, which allocate a little now and then;
their arenas cost ~0.5 MB of RSS (measured with bench/peers.py, 20 workers) and buy
nothing: the threads hardly ever contend with the event loop for the malloc lock.
``MALLOC_ARENA_MAX=1`` in the environment would do the same, but would reach every
child the supervisor starts; ``mallopt`` applies to this process only.
"""

from __future__ import annotations

import ctypes
import logging

M_ARENA_MAX = -8  # glibc's malloc.h
log = logging.getLogger(__name__)


def one_arena() -> bool:
    """Limit this process to one arena; call it before any other thread starts. False
    where the C library has no such setting (musl) or refuses it."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except AttributeError:
        return False
    done = bool(mallopt(M_ARENA_MAX, 1))
    if not done:
        log.debug("mallopt(M_ARENA_MAX, 1) refused")
    return done
