"""A modbus config as a worker gets it: the schema's defaults filled in (the supervisor
does this when it validates connections.json)."""

from __future__ import annotations

from typing import Any

from edgeos.common.schemas import with_defaults
from edgeos.workers import registry


def complete(config: dict[str, Any]) -> dict[str, Any]:
    return with_defaults(registry.manifest("modbus")["config_schema"], config)
