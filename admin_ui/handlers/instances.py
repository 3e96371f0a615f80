"""Instances: live figures, lifecycle actions, panic and recover, reload."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from edgeos.admin_ui.handlers.base import LONG_RPC_S, ApiHandler
from edgeos.ipc.rpc import RpcError

log = logging.getLogger(__name__)

ACTIONS = ("start", "stop", "restart", "kill", "disconnect", "reconnect", "reactivate")
ID_SCHEMA = {"type": "string", "pattern": r"^[A-Za-z0-9_.-]+$"}
SELF_ID = "admin-ui"
SELF_ENDING = ("stop", "restart", "kill")  # actions that end this very process
PANIC_BODY = {"type": "object", "additionalProperties": False,
              "properties": {"why": {"type": "string", "maxLength": 500}}}


class InstanceStats(ApiHandler):
    tag = "instances"

    async def get(self) -> None:
        """Every instance with id, name, type, status, pid, nice, cpu_percent, memory_mb,
        memory_percent, disk I/O, packets, pps in/out, uptime, restarts, errors,
        heartbeat age and limits; plus the mode and performance profile."""
        self.send(await self.rpc("status"))


class InstanceAction(ApiHandler):
    tag = "instances"
    path_params = {"id": ID_SCHEMA, "action": {"enum": list(ACTIONS)}}

    async def post(self, iid: str, action: str) -> None:
        """start, stop (graceful), restart, kill (SIGKILL on the process tree; it comes
        back), disconnect/reconnect from the router, reactivate after a spam suspension.
        Returns the instance's figures afterwards; for an action that ends the admin UI
        itself, 202 at once (the answer must leave before the process goes)."""
        if iid == SELF_ID and action in SELF_ENDING:
            self.send({"id": iid, "action": action, "status": "accepted",
                       "detail": "the admin UI goes away now; pages reconnect when it is "
                                 "back (after a restart, log in again)"}, 202)
            task = asyncio.create_task(self._self_action(action))
            self.edge.pending.add(task)
            task.add_done_callback(self.edge.pending.discard)
            return
        self.send(await self.rpc(action, timeout=LONG_RPC_S, id=iid))

    async def _self_action(self, action: str) -> Any:
        await asyncio.sleep(0.2)  # let the 202 reach the browser
        try:
            return await self.edge.control.call(action, timeout=LONG_RPC_S, id=SELF_ID)
        except RpcError as exc:  # refused (e.g. already stopping): nothing else to tell
            log.warning("%s of the admin UI itself: %s", action, exc)
            return None


class Panic(ApiHandler):
    tag = "instances"
    bodies = {"POST": PANIC_BODY}

    async def post(self) -> None:
        """Panic: fail-safe values, then every device worker and routed delivery stops;
        the UI stays up. Persists until recover."""
        body = self.json_body()
        self.send(await self.rpc("panic", timeout=LONG_RPC_S, who=self.who(),
                                 why=body.get("why") or "panic button in the admin UI"))


class Recover(ApiHandler):
    tag = "instances"

    async def post(self) -> None:
        """Leave panic mode: routing resumes and the enabled workers start again."""
        self.send(await self.rpc("recover", timeout=LONG_RPC_S, who=self.who()))


class Reload(ApiHandler):
    tag = "instances"

    async def post(self) -> None:
        """Apply changed config files; an invalid file changes nothing (400 with reasons)."""
        self.send(await self.rpc("reload", timeout=LONG_RPC_S))
