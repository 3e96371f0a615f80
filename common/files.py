"""Atomic, backed-up writes of config and state files (CONTRACT section 10).

``shutil`` and ``tempfile`` (with bz2, lzma and random: ~0.5 MB of RSS) are imported by
the first write, not with this module: the idle supervisor imports it for its commands
but writes nothing until one runs (issue 16).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

BACKUPS_KEPT = 20


def atomic_write_json(path: Path, doc: Any, backup_dir: Path | None = None) -> None:
    """Write ``doc`` to ``path`` via temp file, fsync and rename; the previous version
    (if any) is copied to ``backup_dir`` first, and old backups beyond 20 are pruned."""
    import shutil
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    if backup_dir is not None and path.exists():
        backup_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S") + f"{time.time_ns() % 1_000_000_000:09d}"
        shutil.copy2(path, backup_dir / f"{path.name}.{stamp}")
        olds = sorted(backup_dir.glob(f"{path.name}.*"))
        for old in olds[:-BACKUPS_KEPT]:
            old.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
