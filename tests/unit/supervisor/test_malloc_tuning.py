"""The supervisor's malloc settings (issue 16, RSS), each case in a fresh interpreter
(the settings are per process): after ``tune()`` threads that allocate get no arena of
their own and do without it, and a block of 16 kB or more is mapped rather than taken
from the heap, even after a larger mapped block was freed (glibc's dynamic threshold
then serves it from the heap, whose pages stay resident once touched). glibc's thread arenas
show in /proc/self/maps as reserved (---p) blocks of up to 64 MiB."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """\
import ctypes, json, sys, threading
from pathlib import Path
if sys.argv[1] == "tuned":
    from edgeos.supervisor.malloc_tuning import tune
    assert tune()
keep = []
threads = [threading.Thread(target=lambda: keep.append([bytes(4096) for _ in range(100)]))
           for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if sys.argv[2] == "after-free":
    big = bytearray(1 << 20)  # a mapped block, freed: raises glibc's dynamic threshold
    del big
block = bytearray(int(sys.argv[3]))
address = ctypes.addressof(ctypes.c_char.from_buffer(block))
arenas, in_heap = 0, False
for line in Path("/proc/self/maps").read_text().splitlines():
    span, perms, *rest = line.split()
    lo, hi = (int(x, 16) for x in span.split("-"))
    if perms == "---p" and len(rest) == 3 and 32 << 20 <= hi - lo <= 64 << 20:
        arenas += 1
    if rest[-1] == "[heap]" and lo <= address < hi:
        in_heap = True
print(json.dumps({"arenas": arenas, "in_heap": in_heap}))
"""


def probe(mode: str, before: str = "after-free", size: int = 200 * 1024) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", PROBE, mode, before, str(size)],
                          capture_output=True,
                          text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_threads_share_the_main_arena() -> None:
    assert probe("default")["arenas"] >= 1
    assert probe("tuned")["arenas"] == 0


def test_blocks_of_16_kb_and_more_are_mapped_whatever_was_freed_before() -> None:
    # glibc's default: 200 kB is mapped until a larger mapped block was freed
    assert probe("default", "fresh")["in_heap"] is False
    assert probe("default", "after-free")["in_heap"] is True
    assert probe("tuned", "after-free")["in_heap"] is False
    assert probe("tuned", "after-free", 16 * 1024)["in_heap"] is False
    assert probe("tuned", "after-free", 8 * 1024)["in_heap"] is True
