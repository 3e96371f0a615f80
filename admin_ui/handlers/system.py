"""System resources, logs and the error store."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import psutil
from edgeos.admin_ui.handlers.base import ApiError, ApiHandler

LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Resources(ApiHandler):
    tag = "system"

    async def get(self) -> None:
        """Host CPU, RAM, disk and load, the performance profile and the mode."""
        doc = await self.rpc("system")
        me = psutil.Process(os.getpid())
        doc["admin_ui"] = {"pid": me.pid, "memory_mb": round(me.memory_info().rss / 2**20, 1),
                           "websockets": len(self.edge.hub.clients)}
        self.send(doc)


class Logs(ApiHandler):
    tag = "system"
    query = {"GET": [
        {"name": "instance", "schema": {"type": "string"},
         "description": "one instance; all instances when absent"},
        {"name": "level", "schema": {"enum": LEVELS}, "description": "this level and above"},
        {"name": "n", "schema": {"type": "integer", "minimum": 1, "maximum": 2000,
                                 "default": 200}},
    ]}

    async def get(self) -> None:
        """The last log lines (ts, instance, stream, level, line), oldest first."""
        iid = self.get_query_argument("instance", "")
        level = self.get_query_argument("level", "") or None
        if level is not None and level.upper() not in LEVELS:
            raise ApiError(400, f"level must be one of {', '.join(LEVELS)}")
        n = self.int_arg("n", 200, 1, 2000)
        if iid:
            self.send(await self.rpc("logs", id=iid, n=n, level=level))
            return
        ids = [i["id"] for i in (await self.rpc("status"))["instances"]]
        parts: list[Any] = await asyncio.gather(
            *(self.rpc("logs", id=i, n=n, level=level) for i in ids), return_exceptions=True)
        lines = [e for part in parts if isinstance(part, list) for e in part]
        lines.sort(key=lambda e: e.get("ts", 0))
        self.send(lines[-n:])


class Errors(ApiHandler):
    tag = "system"
    query = {"GET": [
        {"name": "instance", "schema": {"type": "string"}},
        {"name": "n", "schema": {"type": "integer", "minimum": 1, "maximum": 1000,
                                 "default": 100}},
    ]}

    async def get(self) -> None:
        """Recent uncaught errors, newest first, with stack traces and repeat counts."""
        iid = self.get_query_argument("instance", "") or None
        self.send(await self.rpc("errors", id=iid, n=self.int_arg("n", 100, 1, 1000)))
