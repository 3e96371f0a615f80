"""Everything the handlers share, passed to Tornado as the ``edge`` setting."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import zmq.asyncio
from edgeos.admin_ui.hub import Hub
from edgeos.admin_ui.sessions import LoginLimiter, SessionStore
from edgeos.admin_ui.widgets import WidgetStore
from edgeos.common.auth import AuthStore
from edgeos.ipc.child import SupervisorLink
from edgeos.ipc.rpc import AsyncRpcClient


@dataclass
class Ui:
    ctx: zmq.asyncio.Context
    run_dir: Path
    data_dir: Path
    config_dir: Path
    control: AsyncRpcClient
    auth: AuthStore
    sessions: SessionStore
    limiter: LoginLimiter
    hub: Hub
    widgets: WidgetStore
    tls: bool = False
    pending: set[asyncio.Task[object]] = field(default_factory=set)  # fire-and-forget work
    link: SupervisorLink | None = None  # uncaught errors go to the supervisor's error log
