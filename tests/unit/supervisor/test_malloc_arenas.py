"""One malloc arena in the supervisor (issue 16, RSS): threads that allocate get no
arena of their own after ``one_arena()``, and do without it (the probe can tell).
glibc's thread arenas show in /proc/self/maps as reserved (---p) blocks of up to
64 MiB. Each case runs in a fresh interpreter: the setting is per process."""

from __future__ import annotations

import subprocess
import sys

PROBE = """\
import sys, threading
from pathlib import Path
if sys.argv[1] == "one":
    from edgeos.supervisor.malloc_arenas import one_arena
    assert one_arena()
keep = []
threads = [threading.Thread(target=lambda: keep.append([bytes(4096) for _ in range(100)]))
           for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
arenas = 0
for line in Path("/proc/self/maps").read_text().splitlines():
    span, perms, *rest = line.split()
    lo, hi = (int(x, 16) for x in span.split("-"))
    if perms == "---p" and len(rest) == 3 and 32 << 20 <= hi - lo <= 64 << 20:
        arenas += 1
print(arenas)
"""


def thread_arenas(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True,
                          text=True, timeout=60, check=True)
    return int(done.stdout)


def test_threads_share_the_main_arena() -> None:
    assert thread_arenas("default") >= 1
    assert thread_arenas("one") == 0
