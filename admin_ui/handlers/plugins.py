"""Plugins: installed worker types, their README, install/uninstall, enable/disable."""

from __future__ import annotations

from typing import Any

from edgeos.admin_ui.handlers.base import ApiError, ApiHandler
from edgeos.admin_ui.plugins import PluginError

NAME_BODY = {"type": "object", "required": ["name"], "additionalProperties": False,
             "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100}}}
INSTALL_BODY = {"type": "object", "required": ["package"], "additionalProperties": False,
                "properties": {"package": {"type": "string", "minLength": 1, "maxLength": 200,
                                           "description": "name[==version]"}}}


class PluginsList(ApiHandler):
    tag = "plugins"

    async def get(self) -> None:
        """Installed worker types: name, version, description, distribution, builtin,
        enabled, has_readme and the JSON Schema of their config."""
        self.send(self.edge.plugins.list())


class PluginAction(ApiHandler):
    tag = "plugins"
    path_params = {"action": {"enum": ["install", "uninstall", "enable", "disable"]}}
    bodies = {"POST": {"oneOf": [INSTALL_BODY, NAME_BODY],
                       "description": "install: {package}; the others: {name}"}}

    async def post(self, action: str) -> None:
        """install ``{"package"}`` (pip, into the daemon's environment), uninstall
        ``{"name"}`` (a plugin's distribution; never the core), enable/disable ``{"name"}``
        (a disabled type is not offered for new connections)."""
        body = self.json_body()
        key = "package" if action == "install" else "name"
        if key not in body:
            raise ApiError(400, f"{action} needs {{{key!r}: ...}}")
        plugins = self.edge.plugins
        try:
            result: Any
            if action == "install":
                result = await plugins.install(body["package"])
            elif action == "uninstall":
                result = await plugins.uninstall(body["name"])
            else:
                result = plugins.set_enabled(body["name"], action == "enable")
        except PluginError as exc:
            raise ApiError(exc.status, str(exc), exc.detail) from None
        self.send(result)


class PluginReadme(ApiHandler):
    tag = "plugins"
    path_params = {"name": {"type": "string"}}

    async def get(self, name: str) -> None:
        """The plugin's README.md (text/markdown)."""
        try:
            text = self.edge.plugins.readme(name)
        except PluginError as exc:
            raise ApiError(exc.status, str(exc)) from None
        self.set_header("Content-Type", "text/markdown; charset=UTF-8")
        self.finish(text)
