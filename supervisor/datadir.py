"""The data dir is private and has one owner (CONTRACT section 10, issue 17 items 10-11).

Everything the daemon and its children create is 0600 (dirs 0700) because the daemon
sets ``umask 077`` before anything is opened; children inherit it. A data dir made by
an older version, or by hand, is tightened at start with a warning. One daemon per data
dir: a second one on the same dir exits with a one-line reason.
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

UMASK = 0o077
LOCK_NAME = ".edgeos.lock"
PRIVATE_DIRS = ("", "logs", "backups", "keys")  # tightened at start, with their files


def restrict_umask() -> None:
    """Files and dirs we (and our children) create get no group/other bits."""
    os.umask(UMASK)


def secure(data: Path) -> list[str]:
    """Create ``data`` 0700; tighten it and the files we keep there if they are open to
    others (a warning per path). Returns what was changed."""
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    changed: list[str] = []
    for sub in PRIVATE_DIRS:
        folder = data / sub if sub else data
        if not folder.is_dir() or folder.is_symlink():
            continue
        changed += _tighten(folder, 0o700)
        for entry in folder.iterdir():
            if entry.is_file() and not entry.is_symlink():
                changed += _tighten(entry, 0o600)
    return changed


def _tighten(path: Path, mode: int) -> list[str]:
    current = stat.S_IMODE(path.stat().st_mode)
    if not current & 0o077:
        return []
    os.chmod(path, current & mode)
    log.warning("%s was %04o: readable by other users; now %04o", path, current,
                current & mode)
    return [str(path)]


def lock(data: Path) -> int:
    """Hold an exclusive lock on the data dir for our lifetime (the fd stays open).
    Raises SystemExit with a one-line reason when another daemon holds it."""
    fd = os.open(data / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise SystemExit(f"edgeos: the data dir {data} is in use by another daemon "
                         f"(pid {holder})") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd
