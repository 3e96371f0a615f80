"""The audit log: one JSON line per administrative action (who did what, when, why).

A class of its own so the arbiter gets it through :class:`~edgeos.supervisor.parts.Parts`
and unit tests read the entries from a fake instead of a file.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class AuditLog:
    """Appends to ``<data>/audit.log`` (0600: entries name users and tokens)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, entry: dict[str, Any]) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
        log.warning("audit: %s by %s: %s", entry.get("action"), entry.get("who"),
                    entry.get("why"))
