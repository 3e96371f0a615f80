"""Per-process figures from /proc through files kept open, one ``pread`` per reading.

The supervisor reads ``stat`` and ``io`` of every child once a second (and the
sampling fallback reads RSS and CPU time of capped ones up to 10 times a second).
Opening a /proc file costs a path walk and five syscalls each time; a ``pread`` at
offset 0 on a file already open makes the kernel render it afresh in one syscall,
about a sixth of the CPU. An open /proc file belongs to the process it was opened
for, not to its pid number: once that process has been reaped, reading fails with
ESRCH, so a pid reused later can never show another process's figures. Files are
closed when their process ends (:meth:`ProcFiles.forget`) or fails to read.
"""

from __future__ import annotations

import contextlib
import os

READ_MAX = 4096  # stat, statm and io are a few hundred bytes


class ProcFiles:
    """Open /proc files per (pid, name); at most one of each per live child."""

    def __init__(self, root: str = "/proc") -> None:
        self.root = root
        self._fds: dict[tuple[int, str], int] = {}

    def read(self, pid: int, name: str) -> bytes | None:
        """The current contents of ``/proc/<pid>/<name>``, None if the process is gone
        (or the file cannot be read, e.g. ``io`` of another user's process)."""
        key = (pid, name)
        fd = self._fds.get(key)
        try:
            if fd is None:
                fd = self._fds[key] = os.open(f"{self.root}/{pid}/{name}",
                                              os.O_RDONLY | os.O_CLOEXEC)
            data = os.pread(fd, READ_MAX, 0)
        except OSError:
            self._close(key)
            return None
        if not data:
            self._close(key)
            return None
        return data

    def forget(self, pid: int) -> None:
        """The process ended: close its files."""
        for key in [k for k in self._fds if k[0] == pid]:
            self._close(key)

    def open_count(self) -> int:
        return len(self._fds)

    def close(self) -> None:
        for key in list(self._fds):
            self._close(key)

    def _close(self, key: tuple[int, str]) -> None:
        fd = self._fds.pop(key, None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def children_map(root: str = "/proc") -> dict[int, list[int]]:
    """parent pid -> child pids of every process on the host, from one pass over
    ``/proc/*/stat`` (what psutil's ``children(recursive=True)`` does for each call)."""
    out: dict[int, list[int]] = {}
    for name in os.listdir(root):
        if not name.isdigit():
            continue
        try:
            with open(f"{root}/{name}/stat", "rb") as fh:
                ppid = int(fh.read().rsplit(b")", 1)[1].split(None, 2)[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        out.setdefault(ppid, []).append(int(name))
    return out


def descendants(table: dict[int, list[int]], pid: int) -> list[int]:
    """Every process below ``pid`` in ``table`` (:func:`children_map`), parents first."""
    out: list[int] = []
    todo = list(table.get(pid, ()))
    while todo:
        child = todo.pop()
        out.append(child)
        todo.extend(table.get(child, ()))
    return out
