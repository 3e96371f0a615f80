"""The Host header check (against DNS rebinding) and the access log's level.

A page on ``evil.example`` whose name the attacker re-points to 127.0.0.1 talks to a
loopback UI as same-origin, but its requests still carry ``Host: evil.example``. So
the application answers only requests naming a host it knows: the address it listens
on, ``localhost``, ``127.0.0.1``, ``[::1]``, and the names in ``edgeos.json`` ->
``web.allowed_hosts`` (``"*"`` there turns the check off). When it listens on every
interface (``0.0.0.0`` / ``::``) any IP address is accepted too: rebinding needs a
name, and the machine's own addresses are not known in advance.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import Any

import tornado.httputil
import tornado.web

access_log = logging.getLogger("admin_ui.access")

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("", "0.0.0.0", "::")


def _plain(host: str) -> str:
    """``[::1]`` -> ``::1``, lower case, no trailing dot."""
    host = host.strip().lower().rstrip(".")
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class HostPolicy:
    """Which ``Host`` header values the UI answers."""

    def __init__(self, listen_host: str, extra: Iterable[str] = ()) -> None:
        names = [_plain(h) for h in (*LOCAL_HOSTS, listen_host, *extra)]
        self.any_host = "*" in names
        self.any_ip = _plain(listen_host) in WILDCARDS
        self.names = frozenset(n for n in names if n not in WILDCARDS)

    def allows(self, host_name: str) -> bool:
        host = _plain(host_name)
        return self.any_host or host in self.names or (self.any_ip and _is_ip(host))


class WrongHost(tornado.web.RequestHandler):
    """Every request naming a host the UI does not know: a JSON 421 saying what to do."""

    def prepare(self) -> None:
        self.set_status(421)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        host = self.request.host_name
        self.finish({"error": f"host {host!r} is not served here: add it to edgeos.json "
                              "-> web.allowed_hosts if it is a name of this machine",
                     "detail": {"host": host}})


class HostCheckedApplication(tornado.web.Application):
    """An application that answers only the hosts of its ``host_policy`` setting."""

    def find_handler(self, request: tornado.httputil.HTTPServerRequest,
                     **kwargs: Any) -> Any:
        policy: HostPolicy = self.settings["host_policy"]
        if not policy.allows(request.host_name):
            return self.get_handler_delegate(request, WrongHost)
        return super().find_handler(request, **kwargs)


def log_request(handler: tornado.web.RequestHandler) -> None:
    """Access lines at DEBUG (server errors at WARNING) on their own logger, so a busy
    page does not flood the UI's log at INFO."""
    status = handler.get_status()
    access_log.log(logging.WARNING if status >= 500 else logging.DEBUG, "%d %s %.1fms",
                   status, handler._request_summary(),  # Tornado's own summary
                   1000.0 * handler.request.request_time())
