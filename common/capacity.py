"""Bounds on what config can ask of the machine (issue 17 items 3 and 4).

A 58 MB routing.json pushed the broker past its RAM cap, and 10,000 enabled instances
passed validation and were spawned until memory was nearly gone. Config files have a
size limit (checked before they are read), the number of instances has a limit
(``max_instances`` in edgeos.json), and the memory the enabled instances will need at
least (a Python worker's baseline each, plus the system processes) is checked against
the machine's before anything is started.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_FILE_BYTES = {"connections.json": 4 << 20, "routing.json": 4 << 20,
                  "edgeos.json": 256 << 10, "widgets.json": 4 << 20}
DEFAULT_FILE_BYTES = 4 << 20
DEFAULT_MAX_INSTANCES = 256
WORKER_BASE_MB = 40  # RSS of an idle worker process (Python, ZeroMQ, asyncio)
SYSTEM_BASE_MB = 150  # supervisor, broker and admin UI together
MEMORY_SHARE = 0.8  # of the machine's RAM the projection may use


def file_limit(path: Path) -> int:
    return MAX_FILE_BYTES.get(path.name, DEFAULT_FILE_BYTES)


def size_problem(path: Path) -> str | None:
    """``None``, or why ``path`` is too large to read (one line naming the limit)."""
    limit = file_limit(path)
    try:
        size = path.stat().st_size
    except OSError:
        return None  # the reader reports it
    if size > limit:
        return (f"{path.name}: file is {size:,} bytes, larger than the limit of {limit:,} "
                f"bytes ({limit >> 20 or limit >> 10} {'MiB' if limit >> 20 else 'KiB'})")
    return None


def machine_ram_mb() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20


def instance_problems(source: str, count: int, enabled: int, max_instances: int,
                      ram_mb: float | None = None) -> list[str]:
    """Too many instances, or more than the machine can hold even idle."""
    problems = []
    if count > max_instances:
        problems.append(f"{source}: {count} connections, more than the limit of "
                        f"{max_instances} (max_instances in edgeos.json)")
    ram_mb = machine_ram_mb() if ram_mb is None else ram_mb
    projected = SYSTEM_BASE_MB + enabled * WORKER_BASE_MB
    if projected > ram_mb * MEMORY_SHARE:
        problems.append(f"{source}: {enabled} enabled connections need about "
                        f"{projected:,.0f} MB ({WORKER_BASE_MB} MB each at least), more than "
                        f"{MEMORY_SHARE:.0%} of this machine's {ram_mb:,.0f} MB")
    return problems


def warn_overcommit(source: str, caps_mb: list[float], ram_mb: float | None = None) -> bool:
    """RAM caps are ceilings, not use, so a sum above the machine's RAM is allowed (it is
    usual on small boards), but said: if they all grew to their caps, the kernel's OOM
    killer would choose, not the supervisor."""
    ram_mb = machine_ram_mb() if ram_mb is None else ram_mb
    total = sum(caps_mb)
    if total > ram_mb:
        log.warning("%s: the RAM caps of the enabled connections add up to %s MB, more "
                    "than this machine's %s MB", source, f"{total:,.0f}", f"{ram_mb:,.0f}")
        return True
    return False


def settings_max_instances(doc: dict[str, Any]) -> int:
    return int(doc.get("max_instances", DEFAULT_MAX_INSTANCES))
