"""Optional error reporting to Sentry (``SENTRY_DSN``), from the supervisor.

Every child reports its uncaught errors to the supervisor with the stack trace; the
supervisor forwards each NEW error (not repeats of a crash loop, see
:class:`edgeos.supervisor.errors.ErrorStore`) to Sentry, tagged with instance id, type and
version. sentry-sdk is imported only when a DSN is set.
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)


def _version() -> str:
    # here, only with a DSN: importlib.metadata costs the idle supervisor ~1.3 MB (issue 16)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("smarthome-edge-os")
    except PackageNotFoundError:
        return "unknown"


class SentryReporter:
    def __init__(self) -> None:
        self.sdk: Any = None
        dsn = os.environ.get("SENTRY_DSN")
        if not dsn:
            return
        import sentry_sdk

        sentry_sdk.init(dsn=dsn, environment=os.environ.get("ENVIRONMENT", "production"),
                        release=f"edgeos@{_version()}", default_integrations=False,
                        auto_enabling_integrations=False)
        self.sdk = sentry_sdk
        log.info("errors are reported to Sentry (environment %s)",
                 os.environ.get("ENVIRONMENT", "production"))

    def report(self, instance: str, type_name: str | None, message: str,
               traceback: str | None, fatal: bool) -> None:
        if self.sdk is None:
            return
        event = {"message": message, "level": "fatal" if fatal else "error",
                 "logger": f"edgeos.{instance}",
                 "tags": {"instance": instance, "type": type_name or "", "version": _version()},
                 "extra": {"traceback": traceback or ""}}
        self.sdk.capture_event(event)

    def close(self) -> None:
        if self.sdk is not None:
            self.sdk.flush(timeout=2)
