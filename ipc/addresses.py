"""Socket addresses in the run dir, one place so every process agrees."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

SUPERVISOR = "supervisor.sock"
CONTROL = "control.sock"
EVENTS = "events.sock"
BROKER = "broker.sock"
BROKER_CTL = "broker-ctl.sock"
CHANGES = "changes.sock"


def endpoint(run_dir: Path | str, name: str) -> str:
    """The ``ipc://`` endpoint of socket ``name`` in ``run_dir``."""
    return f"ipc://{Path(run_dir).resolve() / name}"


def socket_path(run_dir: Path | str, name: str) -> Path:
    """The filesystem path of socket ``name`` (to chmod it 0600 after bind)."""
    return Path(run_dir).resolve() / name


def bind(sock: Any, run_dir: Path | str, name: str) -> Any:
    """Bind ``sock`` to socket ``name`` in the run dir, owner-only (0600); returns it.

    A stale socket file from a crashed process is removed first (the run dir's lock
    file guarantees no live daemon owns it).
    """
    path = socket_path(run_dir, name)
    path.unlink(missing_ok=True)
    sock.bind(endpoint(run_dir, name))
    os.chmod(path, 0o600)
    return sock
