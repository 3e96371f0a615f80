"""Worker types are found through the ``edgeos.workers`` entry point group.

Built-in types register the same way as plugins (see pyproject.toml), so the
supervisor and the UI list them all from one place.
"""

from __future__ import annotations

import json
from importlib import resources
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workers.runtime import Worker

GROUP = "edgeos.workers"


class UnknownWorkerType(LookupError):
    """No installed distribution registers this type."""


def available_types() -> list[str]:
    """Names of every installed worker type, sorted."""
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def load(type_name: str) -> type[Worker]:
    """Import and return the worker class registered as ``type_name``."""
    for ep in entry_points(group=GROUP, name=type_name):
        return ep.load()
    raise UnknownWorkerType(f"unknown worker type {type_name!r}; installed: "
                            f"{', '.join(available_types()) or 'none'}")


def manifest(type_name: str) -> dict[str, Any]:
    """The type's ``manifest.json`` (name, version, description, config_schema).

    Read from the package of the entry point's module without importing the worker
    itself, so the supervisor never loads device libraries.
    """
    for ep in entry_points(group=GROUP, name=type_name):
        package = ep.module.rpartition(".")[0] or ep.module
        try:
            text = resources.files(package).joinpath("manifest.json").read_text("utf-8")
        except (FileNotFoundError, ModuleNotFoundError):
            return {"name": type_name, "config_schema": {"type": "object"}}
        return json.loads(text)
    raise UnknownWorkerType(f"unknown worker type {type_name!r}; installed: "
                            f"{', '.join(available_types()) or 'none'}")
