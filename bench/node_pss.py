"""PSS as if a node's processes were alone on the machine (issue 16, a lean satellite).

The kernel's PSS divides each shared page by every process that maps it, machine-wide:
on this machine the other daemons of a benchmark (a core, a second satellite) and
other sessions' processes map the same libpython, libzmq and libc pages, so they
lower each satellite process's PSS below what it would be on a Pi Zero running that
one node. Here each resident page is divided only among the given processes, read
from ``/proc/PID/pagemap`` (page frame numbers need root; without them: None).
"""

from __future__ import annotations

from array import array
from collections import Counter

PAGE = 4096
PRESENT = 1 << 63
PFN_MASK = (1 << 55) - 1


def frames(pid: int) -> list[int]:
    """The page frames of ``pid``'s resident pages (0 where the kernel hides them)."""
    out: list[int] = []
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for line in maps:
            lo, hi = (int(x, 16) for x in line.split(None, 1)[0].split("-"))
            if lo >= 1 << 47:  # [vsyscall]: no page table of ours
                continue
            pagemap.seek(lo // PAGE * 8)
            entries = array("Q")
            entries.frombytes(pagemap.read((hi - lo) // PAGE * 8))
            out.extend(e & PFN_MASK for e in entries if e & PRESENT)
    return out


def zero_page() -> int:
    """The frame of the kernel's shared zero page (anonymous memory read, never
    written, maps it): smaps does not count it, neither do we."""
    import ctypes
    import mmap

    page = mmap.mmap(-1, PAGE)
    try:
        view = ctypes.c_char.from_buffer(page)
        _ = view.value  # a read maps the zero page
        with open("/proc/self/pagemap", "rb") as pagemap:
            pagemap.seek(ctypes.addressof(view) // PAGE * 8)
            entry = int.from_bytes(pagemap.read(8), "little")
        del view
    finally:
        page.close()
    return entry & PFN_MASK if entry & PRESENT else -1


def node_pss_mb(pids: list[int]) -> dict[int, float] | None:
    """MB per pid: each resident page divided by how many of ``pids`` map it; None
    without page frame numbers (not root) or when a process went away meanwhile."""
    try:
        mapped = {pid: frames(pid) for pid in pids}
    except OSError:
        return None
    if any(f and not any(f) for f in mapped.values()):
        return None  # all zero: frame numbers hidden from us
    zero = zero_page()
    sharers: Counter[int] = Counter()
    for found in mapped.values():
        sharers.update(set(found))
    sharers[zero] = 0
    return {pid: round(sum(1 / sharers[f] for f in set(found) if f != zero) * PAGE / 2**20, 1)
            for pid, found in mapped.items()}
