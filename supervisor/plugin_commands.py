"""Control commands of the plugin manager (:mod:`edgeos.supervisor.plugins`).

``edgectl plugin ...`` and the admin UI both use these, so there is one place that
installs, and one registry that must be refreshed: the supervisor's. Install and update
answer at once with a job; ``plugin_job`` waits for its next lines (long poll).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from edgeos.ipc.rpc import BAD_REQUEST, NOT_FOUND, REFUSED, RpcError
from edgeos.supervisor.commands import Command
from edgeos.supervisor.plugins import PluginManager, PluginProblem

if TYPE_CHECKING:
    from edgeos.supervisor.arbiter import Arbiter

MAX_WAIT_S = 25.0
_CODES = {"refused": REFUSED, "not_found": NOT_FOUND, "bad_request": BAD_REQUEST}
_managers: weakref.WeakKeyDictionary[Arbiter, PluginManager] = weakref.WeakKeyDictionary()


class PluginCommand(Command):
    """Base: this daemon's plugin manager; its refusals keep their kind."""

    @property
    def plugins(self) -> PluginManager:
        found = _managers.get(self.arbiter)
        if found is None:
            found = _managers[self.arbiter] = PluginManager(self.arbiter)
        return found

    async def execute(self, args: dict[str, Any]) -> Any:
        try:
            return await self.run(args)
        except PluginProblem as exc:
            raise RpcError(str(exc), _CODES[exc.kind], exc.detail) from None

    async def run(self, args: dict[str, Any]) -> Any:
        raise NotImplementedError

    @staticmethod
    def text(args: dict[str, Any], key: str, most: int = 4096) -> str:
        value = args.get(key)
        if not isinstance(value, str) or not value or len(value) > most:
            raise RpcError(f"{key}: a non-empty string of at most {most} characters is "
                           f"required", BAD_REQUEST)
        return value

    @staticmethod
    def flag(args: dict[str, Any], key: str) -> bool:
        value = args.get(key, False)
        if not isinstance(value, bool):
            raise RpcError(f"{key}: true or false, not {value!r}", BAD_REQUEST)
        return value

    @staticmethod
    def who(args: dict[str, Any]) -> str:
        return str(args.get("who") or "edgectl")[:200]


class PluginList(PluginCommand):
    """List worker types (built in and plugins); with check, ask the index for updates."""

    name = "plugin_list"

    async def run(self, args: dict[str, Any]) -> Any:
        listing = self.plugins.listing()
        if self.flag(args, "check"):
            updates = await self.plugins.updates()
            for entry in listing:
                entry.update(updates.get(entry["plugin"] or "", {}))
        return listing


class PluginInstall(PluginCommand):
    """Install a plugin from the index (plugins.index), a wheel or a folder; returns a job."""

    name = "plugin_install"

    async def run(self, args: dict[str, Any]) -> Any:
        return self.plugins.start("install", self.text(args, "source"), self.who(args)).view()


class PluginUpdate(PluginCommand):
    """Update an installed plugin to the index's newest version; returns a job."""

    name = "plugin_update"

    async def run(self, args: dict[str, Any]) -> Any:
        return self.plugins.start("update", self.text(args, "name", 200),
                                  self.who(args)).view()


class PluginJob(PluginCommand):
    """Progress of an install or update: pip's lines from ``since``, then the outcome."""

    name = "plugin_job"

    async def run(self, args: dict[str, Any]) -> Any:
        job = self.plugins.jobs.get(self.text(args, "job", 100))
        if job is None:
            raise RpcError(f"no plugin job {args['job']!r}", NOT_FOUND)
        since, wait = args.get("since", 0), args.get("wait", 0)
        if isinstance(since, bool) or not isinstance(since, int) or since < 0 \
                or isinstance(wait, bool) or not isinstance(wait, int | float) \
                or not 0 <= wait <= MAX_WAIT_S:
            raise RpcError(f"since: a count >= 0; wait: 0 to {MAX_WAIT_S:g} s", BAD_REQUEST)
        await job.wait(since, float(wait))
        return job.view(since)


class PluginUninstall(PluginCommand):
    """Remove a plugin's folder; instances of its types need stop_instances."""

    name = "plugin_uninstall"

    async def run(self, args: dict[str, Any]) -> Any:
        return await self.plugins.uninstall(self.text(args, "name", 200),
                                            self.flag(args, "stop_instances"), self.who(args))


class PluginEnable(PluginCommand):
    """Enable a worker type again and start its enabled instances."""

    name = "plugin_enable"

    async def run(self, args: dict[str, Any]) -> Any:
        return await self.plugins.set_enabled(self.text(args, "name", 200), True, False,
                                              self.who(args))


class PluginDisable(PluginCommand):
    """Disable a worker type (reload and start refuse it); instances need stop_instances."""

    name = "plugin_disable"

    async def run(self, args: dict[str, Any]) -> Any:
        return await self.plugins.set_enabled(self.text(args, "name", 200), False,
                                              self.flag(args, "stop_instances"),
                                              self.who(args))


class PluginReadme(PluginCommand):
    """A worker type's README.md (Markdown)."""

    name = "plugin_readme"

    async def run(self, args: dict[str, Any]) -> Any:
        name = self.text(args, "name", 200)
        return {"name": name, "markdown": self.plugins.readme(name)}
