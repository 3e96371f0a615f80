"""Where things live: config, data and run dirs (CONTRACT section 2)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_run_dir() -> Path:
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    return Path(xdg) / "edgeos" if xdg else Path("run")


def resolve_run_dir(arg: str | None) -> Path:
    """``--run``, else ``EDGEOS_RUN``, else ``$XDG_RUNTIME_DIR/edgeos``, else ``./run``."""
    return Path(arg or os.environ.get("EDGEOS_RUN") or default_run_dir()).resolve()


@dataclass(frozen=True)
class Paths:
    config: Path
    data: Path
    run: Path

    @classmethod
    def resolve(cls, config: str | None, data: str | None, run: str | None) -> Paths:
        return cls(config=Path(config or os.environ.get("EDGEOS_CONFIG") or "config").resolve(),
                   data=Path(data or os.environ.get("EDGEOS_DATA") or "data").resolve(),
                   run=resolve_run_dir(run))

    def prepare(self) -> None:
        """Create the dirs; the run dir holds the sockets and is private (0700)."""
        self.config.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(parents=True, exist_ok=True)
        self.run.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.run, 0o700)

    @property
    def backups(self) -> Path:
        return self.data / "backups"
