"""Worker types are found through the ``edgeos.workers`` entry point group.

Built-in types register the same way as plugins (see pyproject.toml), so the
supervisor and the UI list them all from one place. Looking entry points up is slow
(every installed distribution is scanned), so answers are cached; ``refresh()`` forgets
them after a plugin was installed or removed.
"""

from __future__ import annotations

import importlib
import json
from functools import cache
from importlib import resources
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeos.workers.runtime import Worker

GROUP = "edgeos.workers"


class UnknownWorkerType(LookupError):
    """No installed distribution registers this type."""


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def refresh() -> None:
    """Forget cached entry points and manifests (after installing a plugin)."""
    _entry_points.cache_clear()
    manifest.cache_clear()


def available_types() -> list[str]:
    """Names of every installed worker type, sorted."""
    return sorted(_entry_points())


def entry(type_name: str) -> str:
    """``module:Class`` of the type, so a worker can import it without the metadata scan."""
    ep = _entry_points().get(type_name)
    if ep is None:
        raise UnknownWorkerType(f"unknown worker type {type_name!r}; installed: "
                                f"{', '.join(available_types()) or 'none'}")
    return ep.value


def load(target: str) -> type[Worker]:
    """Import the worker class from a ``module:Class`` string (see :func:`entry`)."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


@cache
def manifest(type_name: str) -> dict[str, Any]:
    """The type's ``manifest.json`` (name, version, description, config_schema, ...).

    Read from the package of the entry point's module without importing the worker
    itself, so the supervisor never loads device libraries.
    """
    module = entry(type_name).partition(":")[0]
    package = module.rpartition(".")[0] or module
    try:
        text = resources.files(package).joinpath("manifest.json").read_text("utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        return {"name": type_name, "config_schema": {"type": "object"}}
    return json.loads(text)
