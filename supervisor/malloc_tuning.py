"""The supervisor's malloc settings (issue 16, RSS): one arena, and a fixed mmap
threshold with no pad on the heap.

* **One arena.** glibc gives each thread that allocates its own arena. The
  supervisor's only other threads are ZeroMQ's I/O and reaper threads, which allocate a
  little now and then; their arenas cost ~0.5 MB of RSS (measured with
  bench/peers.py, 20 workers) and buy nothing: the threads hardly ever contend with the
  event loop for the malloc lock.
* **Blocks of 16 kB and more are mapped, and the heap grows by what it needs.** By
  default the mmap threshold is dynamic: once a mapped block is freed, blocks up to its
  size come from the heap instead, and the heap grows with a 128 kB pad. A restart's
  transient blocks (log reads of 64 kB, buffers of 32 and 256 kB) then landed in the
  heap's free space, each page of which, touched once, stayed resident: +0.4 MB after
  20 restarts (bounded: the same after 60), although the bytes in use grew by 29 kB
  (``malloc_stats``). With the threshold fixed at 16 kB and no pad they are mapped and
  unmapped (about 8 pairs per restart, 2 per 30 s at idle): 24.95-24.99 MB after 20
  restarts instead of 25.30-25.35 (docs/supervisor-memory.md, round 10).

``MALLOC_ARENA_MAX=1`` and the other ``MALLOC_*_`` variables would do the same, but
would reach every child the supervisor starts; ``mallopt`` applies to this process only.
"""

from __future__ import annotations

import ctypes
import logging

# glibc's malloc.h
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
SETTINGS = {"M_ARENA_MAX": (M_ARENA_MAX, 1), "M_MMAP_THRESHOLD": (M_MMAP_THRESHOLD, 16 * 1024),
            "M_TOP_PAD": (M_TOP_PAD, 0)}
log = logging.getLogger(__name__)


def tune() -> bool:
    """Apply :data:`SETTINGS` to this process; call it before any other thread starts.
    False where the C library has no ``mallopt`` (musl) or refuses one of them."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except AttributeError:
        return False
    refused = [name for name, (param, value) in SETTINGS.items() if not mallopt(param, value)]
    if refused:
        log.debug("mallopt refused %s", ", ".join(refused))
    return not refused
