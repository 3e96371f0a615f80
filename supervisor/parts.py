"""The arbiter's collaborators besides the OS seam, built in one place.

The arbiter used to build its own zmq context, log book, error store and Sentry
reporter, read ``os.environ``, append to ``audit.log`` and call ``os.geteuid()``, so
its reload diffing, panic ordering and waiters could be tested only through real
daemons. Now the daemon builds :class:`Parts` with :meth:`Parts.production` and
unit tests hand the arbiter fakes (supervisor's ``DummySupervisor`` idea), next to the
fake :class:`~edgeos.supervisor.seam.System`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import zmq.asyncio

if TYPE_CHECKING:
    from edgeos.supervisor.cgroups import Backend
    from edgeos.supervisor.logs import InstanceLog
    from edgeos.supervisor.paths import Paths
    from edgeos.supervisor.seam import System


class Book(Protocol):
    """What the arbiter needs of :class:`~edgeos.supervisor.logs.LogBook`."""

    on_line: Callable[[dict[str, Any]], None]
    logs: dict[str, InstanceLog]

    def get(self, instance_id: str) -> InstanceLog: ...
    def attach(self, instance_id: str, fd: int, stream: str,
               watch: Callable[[int, Callable[[], None]], None],
               unwatch: Callable[[int], None]) -> None: ...
    def close(self) -> None: ...


class Errors(Protocol):
    """What the arbiter needs of :class:`~edgeos.supervisor.errors.ErrorStore`."""

    def add(self, instance: str, type_name: str | None, message: str,
            traceback: str | None, fatal: bool, ts: int | None = None) -> tuple[int, bool]: ...
    def recent(self, instance: str | None = None, n: int = 100) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...


class Reporter(Protocol):
    """What the arbiter needs of :class:`~edgeos.supervisor.sentry.SentryReporter`."""

    def report(self, instance: str, type_name: str | None, message: str,
               traceback: str | None, fatal: bool) -> None: ...
    def close(self) -> None: ...


class Audit(Protocol):
    def write(self, entry: dict[str, Any]) -> None: ...


@dataclass
class Parts:
    """Everything the arbiter uses that is not its own logic or the OS seam."""

    ctx: zmq.asyncio.Context
    logbook: Book
    errors: Errors
    sentry: Reporter
    audit: Audit
    env: dict[str, str]  # the environment every child starts from (ours + our ids)
    euid: int
    cgroups: Backend | None  # None: limits are enforced by sampling

    @classmethod
    def production(cls, paths: Paths, system: System) -> Parts:
        """The real collaborators of a daemon on ``paths``."""
        from edgeos.supervisor import cgroups
        from edgeos.supervisor.audit import AuditLog
        from edgeos.supervisor.errors import ErrorStore
        from edgeos.supervisor.logs import LogBook
        from edgeos.supervisor.sentry import SentryReporter
        from edgeos.workers import registry

        registry.use_plugin_dir(paths.data / "plugins")  # see supervisor/plugins.py
        env = {**os.environ, "EDGEOS_SUPERVISOR_PID": str(os.getpid()),
               "EDGEOS_RUN": str(paths.run)}
        backend = None if os.environ.get("EDGEOS_CGROUPS") == "off" else cgroups.detect(system)
        errors = ErrorStore(paths.data / "system_logs.db", on_demand=True)  # see errors.py
        return cls(ctx=zmq.asyncio.Context(), logbook=LogBook(paths.data / "logs", _no_line),
                   errors=errors, sentry=SentryReporter(),
                   audit=AuditLog(paths.data / "audit.log"), env=env, euid=os.geteuid(),
                   cgroups=backend)


def _no_line(entry: dict[str, Any]) -> None:
    """Placeholder until the arbiter takes the log book's lines (its ``__init__``)."""
