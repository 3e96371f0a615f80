"""Worker types are found through the ``edgeos.workers`` entry point group.

Built-in types register the same way as plugins (see pyproject.toml), so the
supervisor and the UI list them all from one place. Plugins are not installed into the
core's environment: each lives in its own pip ``--target`` folder under
``<data>/plugins/<name>/`` (:func:`use_plugin_dir`), and their entry points are read
from there. Looking entry points up is slow (every installed distribution is scanned),
so answers are cached; ``refresh()`` forgets them after a plugin was installed or
removed.

Manifests and READMEs are read as files, located without importing the type's package
(a package's ``__init__`` may load protocol decoders or device libraries, which the
supervisor never runs).

importlib.metadata (with email, zipfile and csv: ~1.3 MB of RSS that CPython never
gives back) is imported only where entry points are read, and the supervisor has even
that scan done by its validation helper process (:func:`scan_elsewhere`, issue 16).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.machinery import PathFinder
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from edgeos.workers.runtime import Worker

GROUP = "edgeos.workers"
log = logging.getLogger(__name__)
_plugin_root: Path | None = None
# Where scan() runs when not here (the supervisor: edgeos.supervisor.validator_process).
_scan_elsewhere: Callable[[Path | None], dict[str, WorkerType]] | None = None


class UnknownWorkerType(LookupError):
    """No installed distribution registers this type."""


@dataclass(frozen=True)
class WorkerType:
    """One registered type: its entry point and where it came from."""

    name: str
    value: str  # module:Class
    distribution: str | None
    version: str | None
    path: Path | None  # the plugin's --target folder; None for the core environment

    @property
    def package_dir(self) -> Path | None:
        """The folder of the entry point module's package, found without importing it."""
        module = self.value.partition(":")[0]
        package = module.rpartition(".")[0] or module
        return find_package_dir(package, self.path)


def find_package_dir(package: str, path: Path | None = None) -> Path | None:
    """Where ``package`` lives on disk. Under a plugin folder the parts are walked as
    directories (no import at all); in the core environment only the parents are
    imported (``edgeos``, ``edgeos.workers``), never the package itself."""
    parts = package.split(".")
    if path is not None:
        spec = PathFinder.find_spec(parts[0], [str(path)])
        if spec is None or not spec.submodule_search_locations:
            return None
        here = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts[1:])
        return here if here.is_dir() else None
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def use_plugin_dir(root: Path | None) -> None:
    """Read plugins from ``root/<name>/`` folders too (the supervisor's data dir)."""
    global _plugin_root
    _plugin_root = root
    refresh()


def plugin_dir() -> Path | None:
    return _plugin_root


def plugin_folders(root: Path | None = None) -> list[Path]:
    """Every installed plugin's folder under ``root`` (default: the one in use); names
    starting with a dot are work in progress."""
    root = _plugin_root if root is None else root
    if root is None or not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def types_in(folder: Path) -> list[WorkerType]:
    """The worker types the distributions installed in ``folder`` register."""
    from importlib.metadata import distributions

    found = []
    for dist in distributions(path=[str(folder)]):
        for ep in dist.entry_points.select(group=GROUP):
            found.append(WorkerType(ep.name, ep.value, dist.metadata["Name"], dist.version,
                                    folder))
    return found


def _core(ep: EntryPoint) -> WorkerType:
    dist = ep.dist
    return WorkerType(ep.name, ep.value, dist.name if dist else None,
                      dist.version if dist else None, None)


def scan_elsewhere(scan_: Callable[[Path | None], dict[str, WorkerType]] | None) -> None:
    """Have :func:`scan` run by ``scan_(plugin_root)`` (None: in this process again)."""
    global _scan_elsewhere
    _scan_elsewhere = scan_
    refresh()


@cache
def _types() -> dict[str, WorkerType]:
    if _scan_elsewhere is not None:
        return _scan_elsewhere(_plugin_root)
    return scan(_plugin_root)


def scan(plugin_root: Path | None) -> dict[str, WorkerType]:
    """Every installed type: the core environment's entry points, then those of the
    plugin folders under ``plugin_root``."""
    from importlib.metadata import entry_points

    out = {ep.name: _core(ep) for ep in entry_points(group=GROUP)}
    for folder in plugin_folders(plugin_root):
        for wt in types_in(folder):
            if wt.name in out:  # a plugin never replaces a type that is already there
                log.warning("plugin %s: type %r is already registered by %s; ignored",
                            folder.name, wt.name, out[wt.name].distribution)
                continue
            out[wt.name] = wt
    return out


def refresh() -> None:
    """Forget cached entry points and manifests (after installing a plugin)."""
    _types.cache_clear()
    manifest.cache_clear()


def available_types() -> list[str]:
    """Names of every installed worker type, sorted."""
    return sorted(_types())


def worker_type(type_name: str) -> WorkerType:
    wt = _types().get(type_name)
    if wt is None:
        raise UnknownWorkerType(f"unknown worker type {type_name!r}; installed: "
                                f"{', '.join(available_types()) or 'none'}")
    return wt


def all_types() -> list[WorkerType]:
    return [_types()[n] for n in available_types()]


def entry(type_name: str) -> str:
    """``module:Class`` of the type, so a worker can import it without the metadata scan."""
    return worker_type(type_name).value


def plugin_path(type_name: str) -> str | None:
    """The folder a worker of this type needs on its ``sys.path`` (None: the core's)."""
    path = worker_type(type_name).path
    return str(path) if path is not None else None


def load(target: str) -> type[Worker]:
    """Import the worker class from a ``module:Class`` string (see :func:`entry`)."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def read_manifest(wt: WorkerType) -> dict[str, Any]:
    """The type's ``manifest.json`` as data; a type without one gets a minimal manifest."""
    folder = wt.package_dir
    path = folder / "manifest.json" if folder is not None else None
    if path is None or not path.is_file():
        return {"name": wt.name, "config_schema": {"type": "object"}}
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def manifest(type_name: str) -> dict[str, Any]:
    """The type's ``manifest.json`` (name, version, description, config_schema, ...)."""
    return read_manifest(worker_type(type_name))


def readme(type_name: str) -> str | None:
    """The type package's README.md, or None."""
    folder = worker_type(type_name).package_dir
    path = folder / "README.md" if folder is not None else None
    return path.read_text(encoding="utf-8") if path is not None and path.is_file() else None
