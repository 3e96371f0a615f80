"""What the bridge has announced on the broker, kept across restarts.

Without it a bridge restarted after a datapoint or an instance vanished would not know
that a retained discovery config or availability topic for it is still on the broker,
and Home Assistant would keep a dead entity.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Announced:
    configs: dict[str, str] = field(default_factory=dict)  # config topic -> payload
    instances: set[str] = field(default_factory=set)  # availability topics published


class Ledger:
    """:class:`Announced` in a JSON file, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._saved: tuple[dict[str, str], list[str]] | None = None
        self._lock = asyncio.Lock()  # one writer of the temp file at a time

    def load(self) -> Announced:
        try:
            data = json.loads(self.path.read_text("utf-8"))
            return Announced({str(k): str(v) for k, v in data["configs"].items()},
                             {str(i) for i in data["instances"]})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return Announced()

    def _write(self, doc: dict[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    async def save(self, announced: Announced) -> None:
        """Write ``announced`` if it differs from what was written last."""
        snapshot = (dict(announced.configs), sorted(announced.instances))
        async with self._lock:
            if snapshot == self._saved:
                return
            await asyncio.to_thread(self._write, {"configs": snapshot[0],
                                                  "instances": snapshot[1]})
            self._saved = snapshot
