"""Discovery jobs: start one, follow its progress and findings, cancel it.

The jobs run on the daemon (:mod:`edgeos.supervisor.discover_commands`); a finished
Modbus job carries, per unit found, a ``connection`` ready to review and save through
``POST /api/connections``.
"""

from __future__ import annotations

from edgeos.admin_ui.handlers.base import LONG_RPC_S, ApiHandler

JOB_SCHEMA = {"type": "string", "pattern": r"^[0-9a-f]{1,32}$"}
START_BODY = {
    "type": "object", "additionalProperties": False, "required": ["kind", "target"],
    "properties": {
        "kind": {"enum": ["modbus", "mbus", "ble"]},
        "target": {"type": "string", "minLength": 1, "maxLength": 512,
                   "description": "modbus: tcp://HOST:PORT or rtu://SERIAL_PORT[?baudrate=N]; "
                                  "mbus: the serial port; ble: the adapter (hci0) or default"},
        "units": {"type": "string", "maxLength": 200,
                  "description": "modbus: unit ids A-B, A or A,B,C-D"},
        "mode": {"enum": ["primary", "secondary"], "description": "mbus: how to search"},
        "addresses": {"type": "string", "maxLength": 200,
                      "description": "mbus primary: addresses A-B, A or A,B,C-D"},
        "mask": {"type": "string", "pattern": "^[0-9A-Fa-f]{16}$",
                 "description": "mbus secondary: 16 hex digits, F = wildcard"},
        "baudrate": {"type": "integer", "minimum": 300, "maximum": 38400},
        "timeout_s": {"type": "number", "minimum": 0.01, "maximum": 10},
        "duration_s": {"type": "number", "minimum": 0.5, "maximum": 120,
                       "description": "ble: seconds to listen"}}}


class Discover(ApiHandler):
    tag = "discover"
    bodies = {"POST": START_BODY}

    async def get(self) -> None:
        """Recent discovery jobs (id, kind, target, state, progress), newest last."""
        self.send(await self.rpc("discover_list"))

    async def post(self) -> None:
        """Start a discovery job; 202 with the job. A bad target or unit range is a 400
        naming it. At most two jobs run at once (409 beyond)."""
        body = self.json_body()
        self.send(await self.rpc("discover", timeout=LONG_RPC_S, who=self.who(), **body),
                  status=202)


class DiscoverJob(ApiHandler):
    tag = "discover"
    path_params = {"job": JOB_SCHEMA}

    async def get(self, job: str) -> None:
        """A job's state (running, done, failed, cancelled), progress 0..1, message, what
        it found so far and, when done, its result."""
        self.send(await self.rpc("discover_status", job=job))

    async def delete(self, job: str) -> None:
        """Cancel a running job (its process ends at once)."""
        self.send(await self.rpc("discover_cancel", job=job))


BROWSE_BODY = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "filter": {"type": "string", "minLength": 1, "maxLength": 1024,
                   "description": "mqtt: the topic filter to listen on (default #)"},
        "duration_s": {"type": "number", "minimum": 0.5, "maximum": 60,
                       "description": "mqtt: seconds to listen (default 5)"}}}


class ConnectionBrowse(ApiHandler):
    tag = "discover"
    path_params = {"id": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]+$"}}
    bodies = {"POST": BROWSE_BODY}

    async def post(self, cid: str) -> None:
        """Browse what a running instance's device offers, as a job (202; follow it at
        /api/discover/<job>): an ads instance's whole symbol tree with values and which
        symbols its patterns select; an mqtt instance's topics (a bounded temporary
        subscription) with values, short history and which its filters take."""
        body = self.json_body()
        self.send(await self.rpc("browse", timeout=LONG_RPC_S, id=cid, **body), status=202)
