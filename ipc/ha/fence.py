"""A satellite's fence: the highest core epoch it has seen, in ``<data>/fence.json``
(atomic). Commands carry the sending core's epoch; one below the highest seen comes
from a core that was taken over from and is refused (``stale_epoch``), so a primary
that returns after a partition cannot actuate anything."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from edgeos.common.files import atomic_write_json

log = logging.getLogger("fence")

FENCE_FILE = "fence.json"


class Fence:
    def __init__(self, data_dir: Path | str) -> None:
        self.path = Path(data_dir) / FENCE_FILE
        self.epoch = 0
        self.refused = 0
        try:
            doc = json.loads(self.path.read_text("utf-8"))
            self.epoch = int(doc["epoch"])
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("%s unreadable (%s): starting from epoch 0", self.path, exc)

    def see(self, epoch: int) -> bool:
        """Note a core's epoch; False if it is stale (below the highest seen)."""
        if epoch < self.epoch:
            return False
        if epoch > self.epoch:
            self.epoch = epoch
            atomic_write_json(self.path, {"epoch": epoch})
            log.warning("core epoch %d seen: commands of lower epochs are refused", epoch)
        return True
