"""Plugins: the supervisor's plugin manager over HTTP (list, install and update jobs
with their pip output, uninstall, enable/disable, README as sanitised HTML)."""

from __future__ import annotations

import base64
from typing import Any

from edgeos.admin_ui.handlers.base import ApiError, ApiHandler
from edgeos.admin_ui.plugins import MAX_WHEEL_BYTES, render_readme, save_upload

LONG_S = 60.0
NAME = {"type": "string", "minLength": 1, "maxLength": 200}
ACTION_BODY = {"type": "object", "additionalProperties": False, "properties": {
    "package": {"type": "string", "minLength": 1, "maxLength": 200,
                "description": "install: name[==version] from plugins.index"},
    "name": {**NAME, "description": "the plugin (update, uninstall) or type (enable, "
                                    "disable)"},
    "stop_instances": {"type": "boolean", "description": "uninstall/disable: stop the "
                                                         "type's instances (else 409)"}}}


class PluginsList(ApiHandler):
    tag = "plugins"

    async def get(self) -> None:
        """Worker types: name, version, description, author, distribution, plugin,
        builtin, enabled, has_readme, instances, config_schema; with ``?check=1`` also
        latest and update_available from the index."""
        check = self.get_query_argument("check", "") in ("1", "true")
        self.send(await self.rpc("plugin_list", timeout=LONG_S if check else None,
                                 check=check))


class PluginAction(ApiHandler):
    tag = "plugins"
    path_params = {"action": {"enum": ["install", "update", "uninstall", "enable",
                                       "disable"]}}
    bodies = {"POST": ACTION_BODY}

    async def post(self, action: str) -> None:
        """install ``{"package"}`` and update ``{"name"}`` answer 202 with a job (follow
        it at /api/plugins/jobs/{job}); uninstall and disable ``{"name",
        "stop_instances"}`` refuse with 409 listing the instances unless told to stop
        them; enable ``{"name"}``."""
        body = self.json_body()
        key = "package" if action == "install" else "name"
        if key not in body:
            raise ApiError(400, f"{action} needs {{{key!r}: ...}}")
        who = self.who()
        if action == "install":
            self.send(await self.rpc("plugin_install", source=body["package"], who=who), 202)
        elif action == "update":
            self.send(await self.rpc("plugin_update", name=body["name"], who=who), 202)
        else:
            args: dict[str, Any] = {"name": body["name"], "who": who}
            if action != "enable":
                args["stop_instances"] = bool(body.get("stop_instances"))
            self.send(await self.rpc(f"plugin_{action}", timeout=LONG_S, **args))


class PluginUpload(ApiHandler):
    tag = "plugins"
    bodies = {"POST": {"type": "object", "required": ["filename", "data"],
                       "additionalProperties": False, "properties": {
                           "filename": {"type": "string", "maxLength": 200,
                                        "description": "the wheel's file name"},
                           "data": {"type": "string",
                                    "maxLength": (MAX_WHEEL_BYTES * 4) // 3 + 4,
                                    "description": "the wheel, base64"}}}}

    async def post(self) -> None:
        """Install an uploaded wheel ``{"filename", "data"}`` (base64, at most 20 MiB);
        answers 202 with the job."""
        body = self.json_body()
        try:
            wheel = base64.b64decode(body["data"], validate=True)
            path = save_upload(self.edge.data_dir, body["filename"], wheel)
        except ValueError as exc:  # binascii.Error is one
            raise ApiError(400, str(exc)) from None
        self.send(await self.rpc("plugin_install", source=str(path), who=self.who()), 202)


class PluginJob(ApiHandler):
    tag = "plugins"
    path_params = {"job": {"type": "string"}}

    async def get(self, job: str) -> None:
        """An install/update job: pip's lines from ``since``, state (running, done,
        failed), result or error; ``wait`` (s, at most 25) waits for news first."""
        since = self.int_arg("since", 0, 0, 10**9)
        wait = self.int_arg("wait", 0, 0, 25)
        self.send(await self.rpc("plugin_job", timeout=wait + 10, job=job, since=since,
                                 wait=wait))


class PluginReadme(ApiHandler):
    tag = "plugins"
    path_params = {"name": {"type": "string"}}

    async def get(self, name: str) -> None:
        """The type's README.md rendered to sanitised HTML: ``{"name", "html"}``."""
        doc = await self.rpc("plugin_readme", name=name)
        self.send({"name": name, "html": render_readme(doc["markdown"])})
