"""Instances: live figures, lifecycle actions, panic and recover, reload."""

from __future__ import annotations

from edgeos.admin_ui.handlers.base import LONG_RPC_S, ApiHandler

ACTIONS = ("start", "stop", "restart", "kill", "disconnect", "reconnect", "reactivate")
ID_SCHEMA = {"type": "string", "pattern": r"^[A-Za-z0-9_.-]+$"}
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
        Returns the instance's figures afterwards."""
        self.send(await self.rpc(action, timeout=LONG_RPC_S, id=iid))


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
