"""Control commands of the plugin manager (:mod:`edgeos.supervisor.plugins`).

``edgectl plugin ...`` and the admin UI both use these, so there is one place that
installs, and one registry that must be refreshed: the supervisor's. Install and update
answer at once with a job; ``plugin_job`` waits for its next lines (long poll).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from edgeos.ipc.commands import Arg
from edgeos.ipc.rpc import BAD_REQUEST, NOT_FOUND, REFUSED, RpcError
from edgeos.supervisor.commands import WHO, Command

if TYPE_CHECKING:  # the manager (jsonschema, pip) loads when a command runs, not in edgectl
    from edgeos.supervisor.arbiter import Arbiter
    from edgeos.supervisor.plugins import PluginManager

MAX_WAIT_S = 25.0
_CODES = {"refused": REFUSED, "not_found": NOT_FOUND, "bad_request": BAD_REQUEST}
NAME = Arg("name", required=True, help="the plugin (or worker type)", least=1, most=200)
STOP = Arg("stop_instances", "bool", default=False,
           help="stop the type's instances first (else refused while there are)")
_managers: weakref.WeakKeyDictionary[Arbiter, PluginManager] = weakref.WeakKeyDictionary()


class PluginCommand(Command):
    """Base: this daemon's plugin manager; its refusals keep their kind."""

    @property
    def plugins(self) -> PluginManager:
        from edgeos.supervisor.plugins import PluginManager

        found = _managers.get(self.arbiter)
        if found is None:
            found = _managers[self.arbiter] = PluginManager(self.arbiter)
        return found

    async def execute(self, args: dict[str, Any]) -> Any:
        from edgeos.supervisor.plugins import PluginProblem

        try:
            return await self.run(args)
        except PluginProblem as exc:
            raise RpcError(str(exc), _CODES[exc.kind], exc.detail) from None

    async def run(self, args: dict[str, Any]) -> Any:
        """The command's work, on checked arguments (``execute`` maps its refusals)."""
        raise NotImplementedError


class PluginList(PluginCommand):
    """List worker types (built in and plugins); with check, ask the index for updates."""

    name = "plugin_list"
    args = (Arg("check", "bool", default=False, help="ask the index for updates"),)

    async def run(self, args: dict[str, Any]) -> Any:
        listing = self.plugins.listing()
        if args["check"]:
            updates = await self.plugins.updates()
            for entry in listing:
                entry.update(updates.get(entry["plugin"] or "", {}))
        return listing


class PluginInstall(PluginCommand):
    """Install a plugin from the index (plugins.index), a wheel or a folder; returns a job."""

    name = "plugin_install"
    args = (Arg("source", required=True, least=1,
                help="name[==version], or the path of a .whl or a folder"), WHO)

    async def run(self, args: dict[str, Any]) -> Any:
        return self.plugins.start("install", args["source"], args["who"]).view()


class PluginUpdate(PluginCommand):
    """Update an installed plugin to the index's newest version; returns a job."""

    name = "plugin_update"
    args = (NAME, WHO)

    async def run(self, args: dict[str, Any]) -> Any:
        return self.plugins.start("update", args["name"], args["who"]).view()


class PluginJob(PluginCommand):
    """Progress of an install or update: pip's lines from ``since``, then the outcome."""

    name = "plugin_job"
    args = (Arg("job", required=True, help="the job id", least=1, most=100),
            Arg("since", "int", default=0, least=0, help="the first output line to return"),
            Arg("wait", "float", default=0, least=0, most=MAX_WAIT_S,
                help="seconds to wait for new lines"))

    async def run(self, args: dict[str, Any]) -> Any:
        job = self.plugins.jobs.get(args["job"])
        if job is None:
            raise RpcError(f"no plugin job {args['job']!r}", NOT_FOUND)
        await job.wait(args["since"], float(args["wait"]))
        return job.view(args["since"])


class PluginUninstall(PluginCommand):
    """Remove a plugin's folder; instances of its types need stop_instances."""

    name = "plugin_uninstall"
    args = (NAME, STOP, WHO)

    async def run(self, args: dict[str, Any]) -> Any:
        return await self.plugins.uninstall(args["name"], args["stop_instances"], args["who"])


class PluginEnable(PluginCommand):
    """Enable a worker type again and start its enabled instances."""

    name = "plugin_enable"
    args = (NAME, WHO)

    async def run(self, args: dict[str, Any]) -> Any:
        return await self.plugins.set_enabled(args["name"], True, False, args["who"])


class PluginDisable(PluginCommand):
    """Disable a worker type (reload and start refuse it); instances need stop_instances."""

    name = "plugin_disable"
    args = (NAME, STOP, WHO)

    async def run(self, args: dict[str, Any]) -> Any:
        return await self.plugins.set_enabled(args["name"], False, args["stop_instances"],
                                              args["who"])


class PluginReadme(PluginCommand):
    """A worker type's README.md (Markdown)."""

    name = "plugin_readme"
    args = (NAME,)

    async def run(self, args: dict[str, Any]) -> Any:
        name = args["name"]
        return {"name": name, "markdown": self.plugins.readme(name)}
