"""Socket addresses in the run dir, one place so every process agrees."""

from __future__ import annotations

from pathlib import Path

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
