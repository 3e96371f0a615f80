"""Tell when a mirrored file is replaced or rewritten: Linux inotify, read from the
event loop (no polling). Our atomic writer renames a temp file over the target
(``IN_MOVED_TO``); an editor may rewrite in place (``IN_CLOSE_WRITE``)."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import struct
from collections.abc import Callable
from pathlib import Path

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_DELETE = 0x00000200
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class FileWatch:
    """Calls ``on_change(path)`` for each watched name that changed in the watched dirs."""

    def __init__(self, files: list[Path], on_change: Callable[[Path], None]) -> None:
        self.on_change = on_change
        self.fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self.wanted: dict[int, dict[str, Path]] = {}
        by_dir: dict[Path, dict[str, Path]] = {}
        for path in files:
            by_dir.setdefault(path.parent, {})[path.name] = path
        for folder, names in by_dir.items():
            wd = _libc.inotify_add_watch(self.fd, str(folder).encode(),
                                         IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE)
            if wd < 0:
                err = ctypes.get_errno()
                os.close(self.fd)
                raise OSError(err, f"inotify_add_watch {folder}: {os.strerror(err)}")
            self.wanted[wd] = names

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_reader(self.fd, self._read)

    def _read(self) -> None:
        try:
            buf = os.read(self.fd, 64 * 1024)
        except BlockingIOError:
            return
        changed: list[Path] = []
        pos = 0
        while pos + _EVENT.size <= len(buf):
            wd, _mask, _cookie, length = _EVENT.unpack_from(buf, pos)
            name = buf[pos + _EVENT.size:pos + _EVENT.size + length].split(b"\0", 1)[0]
            pos += _EVENT.size + length
            path = self.wanted.get(wd, {}).get(name.decode(errors="replace"))
            if path is not None and path not in changed:
                changed.append(path)
        for path in changed:
            self.on_change(path)

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.remove_reader(self.fd)
        os.close(self.fd)
