"""Plugins: the worker types registered under the ``edgeos.workers`` entry points.

Built-in types register exactly like third-party ones, so one list shows both. A
plugin is installed or removed with pip into the daemon's own environment (one pip at
a time; only distributions that register worker types can be removed, and never the
core). Disabling a type hides it from "add connection" and refuses new connections of
it; the set of disabled types lives in ``<data>/plugins.json``.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from edgeos.supervisor.files import atomic_write_json
from edgeos.workers import registry

CORE_DISTRIBUTION = "smarthome-edge-os"
STATE_FILE = "plugins.json"
PIP_TIMEOUT_S = 600.0
# A PEP 508 name with optional extras and one version clause; no URLs, paths or options.
REQUIREMENT_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?"
                            r"(?:\[[A-Za-z0-9._,-]+\])?"
                            r"(?:(?:==|>=|<=|~=|!=|<|>)[A-Za-z0-9.*+!-]{1,40})?$")


class PluginError(Exception):
    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class Plugins:
    def __init__(self, data_dir: Path) -> None:
        self.state_path = Path(data_dir) / STATE_FILE
        self._pip = asyncio.Lock()

    # -- listing ---------------------------------------------------------------------
    def disabled(self) -> set[str]:
        try:
            doc = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return set()
        return {str(n) for n in doc.get("disabled", [])} if isinstance(doc, dict) else set()

    def list(self) -> list[dict[str, Any]]:
        """Every installed type with its manifest, distribution and enabled flag."""
        off = self.disabled()
        out = []
        for ep in sorted(entry_points(group=registry.GROUP), key=lambda e: e.name):
            manifest = registry.manifest(ep.name)
            dist = ep.dist
            out.append({
                "name": ep.name,
                "version": manifest.get("version") or (dist.version if dist else None),
                "description": manifest.get("description", ""),
                "distribution": dist.name if dist else None,
                "builtin": bool(dist and _canonical(dist.name) == CORE_DISTRIBUTION),
                "enabled": ep.name not in off,
                "has_readme": self._readme_path(ep.module) is not None,
                "config_schema": manifest.get("config_schema", {"type": "object"}),
            })
        return out

    def names(self) -> list[str]:
        return registry.available_types()

    @staticmethod
    def _readme_path(module: str) -> Any:
        package = module.rpartition(".")[0] or module
        try:
            path = resources.files(package).joinpath("README.md")
        except ModuleNotFoundError:
            return None
        return path if path.is_file() else None

    def readme(self, name: str) -> str:
        for ep in entry_points(group=registry.GROUP, name=name):
            path = self._readme_path(ep.module)
            if path is None:
                raise PluginError(404, f"plugin {name!r} has no README")
            return str(path.read_text(encoding="utf-8"))
        raise PluginError(404, f"no plugin {name!r}")

    # -- enabling --------------------------------------------------------------------
    def set_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        if name not in self.names():
            raise PluginError(404, f"no plugin {name!r}")
        off = self.disabled()
        (off.discard if enabled else off.add)(name)
        atomic_write_json(self.state_path, {"disabled": sorted(off)})
        return {"name": name, "enabled": enabled}

    # -- installing ------------------------------------------------------------------
    async def install(self, requirement: str) -> dict[str, Any]:
        if not REQUIREMENT_RE.match(requirement):
            raise PluginError(400, "package: a name with an optional version, e.g. "
                                   "edgeos-plugin-foo>=1.0")
        before = set(self.names())
        output = await self._run_pip("install", "--no-input", requirement)
        after = set(self.names())
        return {"installed": requirement, "new_types": sorted(after - before),
                "output": output[-4000:]}

    async def uninstall(self, name: str) -> dict[str, Any]:
        """Remove the distribution that provides worker type or distribution ``name``."""
        dists = {ep.dist.name for ep in entry_points(group=registry.GROUP)
                 if ep.dist and name in (ep.name, ep.dist.name)}
        if not dists:
            raise PluginError(404, f"no plugin {name!r}")
        dist = dists.pop()
        if _canonical(dist) == CORE_DISTRIBUTION:
            raise PluginError(409, f"{name!r} is built into the core and cannot be removed")
        output = await self._run_pip("uninstall", "--yes", dist)
        return {"uninstalled": dist, "output": output[-4000:]}

    async def _run_pip(self, *args: str) -> str:
        if self._pip.locked():
            raise PluginError(409, "another install or uninstall is running")
        async with self._pip:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "pip", *args, "--disable-pip-version-check",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            try:
                out, _ = await asyncio.wait_for(proc.communicate(), PIP_TIMEOUT_S)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise PluginError(504, f"pip {args[0]} took longer than {PIP_TIMEOUT_S:.0f} s"
                                  ) from None
        text = out.decode("utf-8", "replace")
        if proc.returncode != 0:
            raise PluginError(502, f"pip {args[0]} failed (exit {proc.returncode})",
                              text[-4000:])
        return text
