"""Where the bridge publishes: datapoint addresses <-> MQTT topics.

``<prefix>/<instance-id>/<path with dots as slashes>`` carries a datapoint's state and
``.../set`` takes writes. The bridge's own topics live under ``<prefix>/bridge/``, so an
instance must not be called ``bridge`` if the bridge is to mirror it unambiguously.
"""

from __future__ import annotations

import hashlib
import re

SET_SUFFIX = "/set"
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


def safe_id(text: str) -> str:
    """``text`` as a Home Assistant node/object id ([a-zA-Z0-9_-]); a short hash keeps
    ids apart that only differed in the characters replaced."""
    cleaned = _UNSAFE.sub("_", text)
    if cleaned == text:
        return cleaned
    return f"{cleaned}_{hashlib.sha1(text.encode()).hexdigest()[:6]}"


class Topics:
    """Topic names under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix.strip("/")

    @property
    def everything(self) -> str:
        return f"{self.prefix}/#"

    @property
    def availability(self) -> str:
        """The bridge's own online/offline (birth and last will)."""
        return f"{self.prefix}/bridge/availability"

    def instance_availability(self, instance: str) -> str:
        """``online`` while the instance's worker runs, ``offline`` otherwise."""
        return f"{self.prefix}/bridge/instances/{instance}/availability"

    def state(self, instance: str, path: str) -> str:
        return f"{self.prefix}/{instance}/{path.replace('.', '/')}"

    def set_target(self, topic: str) -> tuple[str, str] | None:
        """``(instance, path)`` of a ``.../set`` topic by its shape alone, or None.

        Paths that contained slashes themselves (MQTT topics of an ``mqtt`` instance) are
        ambiguous here; the bridge looks those up among the topics it has published first.
        """
        head = self.prefix + "/"
        if not topic.startswith(head) or not topic.endswith(SET_SUFFIX):
            return None
        levels = topic[len(head):-len(SET_SUFFIX)].split("/")
        if len(levels) < 2 or not all(levels):
            return None
        return levels[0], ".".join(levels[1:])
