"""Steady heartbeats through a small file per child in the run dir (docs/idle-pacing.md,
round 9).

A child's period beat with nothing moved is no news: it only proves the child alive.
Round 8 sent it on a second ZeroMQ socket the supervisor reads at its pass instead of
waking for it; each of those connections cost the supervisor ~45 kB of ZeroMQ pipes and
buffers (0.9 MB with 20 workers) and its I/O thread still woke for every beat. Here the
child overwrites ``<run>/beats/<id>`` (open, one ``pwrite``, close: no wake-up of
anyone) and the supervisor reads the files at its pass. A record is ``length, crc32``
and a msgpack ``[pid, seq, sent, counters]``: a read that races a write fails the
checksum and is taken at the next read, the pid ties it to the running process, the
sequence counts the beats written. A child that cannot write one (no dir, a full disk)
sends the beat on its worker channel as before.
"""

from __future__ import annotations

import binascii
import contextlib
import os
import struct
from collections.abc import Container
from pathlib import Path
from typing import Any, NamedTuple

from edgeos.ipc import protocol

DIR = "beats"
HEAD = struct.Struct("<II")  # body length, crc32 of the body
MAX_BODY = 4096 - HEAD.size  # one page: a record is written by one pwrite


class Beat(NamedTuple):
    pid: int
    seq: int
    sent: float  # monotonic, the clock every process on the host shares
    counters: dict[str, Any]


def beat_path(run_dir: Path | str, iid: str) -> Path | None:
    """Where ``iid``'s beats go; None for an id that is no plain file name."""
    if not iid or "/" in iid or iid.startswith(".") or "\0" in iid:
        return None
    return Path(run_dir) / DIR / iid


def make_dir(run_dir: Path | str) -> Path:
    """The beats dir, owner-only and empty (a crashed run's files are gone)."""
    path = Path(run_dir) / DIR
    path.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    for entry in os.scandir(path):
        os.unlink(entry.path)
    return path


def remove_dir(run_dir: Path | str) -> None:
    """At the supervisor's end: the dir and what children left in it."""
    path = Path(run_dir) / DIR
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(path):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
    with contextlib.suppress(OSError):
        path.rmdir()


class BeatWriter:
    """A child's end: its steady beats, each overwriting the last."""

    def __init__(self, run_dir: Path | str, iid: str) -> None:
        self.path = beat_path(run_dir, iid)
        self.seq = 0

    def write(self, counters: dict[str, Any], sent: float, pid: int | None = None) -> bool:
        """False: not written (the caller sends the beat on its channel instead).
        ``pid``: this process's unless given (a test's fake child)."""
        body = protocol.pack([pid or os.getpid(), self.seq + 1, sent, counters])
        if self.path is None or len(body) > MAX_BODY:
            return False
        try:  # opened for each beat: a forkserver template's open file would be
            # inherited by every worker it forks (once per heartbeat_s: cheap)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.pwrite(fd, HEAD.pack(len(body), binascii.crc32(body)) + body, 0)
            finally:
                os.close(fd)
        except OSError:
            return False
        self.seq += 1
        return True


def parse(data: bytes) -> Beat | None:
    """The beat in a file's bytes; None: none, or one being written right now."""
    if len(data) < HEAD.size:
        return None
    length, crc = HEAD.unpack_from(data)
    body = data[HEAD.size:HEAD.size + length]
    if len(body) != length or binascii.crc32(body) != crc:
        return None
    try:
        pid, seq, sent, counters = protocol.unpack(body)
    except (ValueError, TypeError):
        return None
    if not (isinstance(pid, int) and isinstance(seq, int) and isinstance(sent, float)
            and isinstance(counters, dict)):
        return None
    return Beat(pid, seq, sent, counters)


def read_beat(path: Path) -> Beat | None:
    """The last beat written to ``path`` (a test's or a tool's look)."""
    try:
        return parse(path.read_bytes())
    except OSError:
        return None


class BeatReader:
    """The supervisor's end: each child's file opened once and read with one ``pread``
    (a child overwrites its file in place, so the descriptor stays good across its
    restarts); a ``status`` reads them all, so this is kept cheap."""

    def __init__(self, run_dir: Path | str) -> None:
        self.run_dir = run_dir
        self.fds: dict[str, int] = {}

    def read(self, iid: str) -> Beat | None:
        fd = self.fds.get(iid)
        if fd is None:
            path = beat_path(self.run_dir, iid)
            if path is None:
                return None
            try:
                fd = self.fds[iid] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None  # no steady beat yet
        try:
            return parse(os.pread(fd, HEAD.size + MAX_BODY, 0))
        except OSError:
            return None

    def keep(self, ids: Container[str]) -> None:
        """Close the files of instances that are gone."""
        for iid in [i for i in self.fds if i not in ids]:
            os.close(self.fds.pop(iid))

    def close(self) -> None:
        self.keep(set())
