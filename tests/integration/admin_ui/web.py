"""Talking HTTP to a real daemon's admin UI, as a browser or a script would."""

from __future__ import annotations

import http.cookiejar
import json
import re
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.daemon import Daemon

NO_BODY = object()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Response:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class Web:
    """A client with its own cookie jar; ``token`` sends a bearer token instead;
    ``tls`` is the context that verifies an https server."""

    base: str
    token: str | None = None
    csrf: str | None = None
    jar: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)
    tls: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                  urllib.request.HTTPSHandler(context=self.tls))

    def request(self, method: str, path: str, body: Any = NO_BODY, *,
                headers: dict[str, str] | None = None, csrf: bool = True,
                raw: bytes | None = None) -> Response:
        hdrs = dict(headers or {})
        data = raw
        if body is not NO_BODY:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            hdrs["X-CSRF-Token"] = self.csrf
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with self.opener.open(req, timeout=60) as res:
                return Response(res.status, res.headers, res.read())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, exc.headers, exc.read())

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = NO_BODY, **kw: Any) -> Response:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = NO_BODY, **kw: Any) -> Response:
        return self.request("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Response:
        return self.request("DELETE", path, **kw)

    def login(self, password: str, username: str = "admin") -> Response:
        res = self.post("/api/login", {"username": username, "password": password})
        if res.status == 200:
            self.csrf = res.json()["csrf"]
        return res

    def ok(self, method: str, path: str, body: Any = NO_BODY, status: int = 200) -> Any:
        res = self.request(method, path, body)
        assert res.status == status, f"{method} {path}: {res.status} {res.text}"
        return res.json()


class WebDaemon:
    """A daemon with its admin UI on a free port, the admin password known."""

    PASSWORD = "correct horse battery"

    def __init__(self, root: Path, connections: list[dict[str, Any]],
                 routes: list[dict[str, Any]] | None = None, *, host: str = "127.0.0.1",
                 port: int | None = None, **kwargs: Any) -> None:
        self.port = port or free_port()
        self.base = f"http://{host}:{self.port}"
        self.d = Daemon(root, connections, routes, headless=False,
                        extra_args=["--web-port", str(self.port), "--web-host", host], **kwargs)

    def start(self) -> WebDaemon:
        self.d.start()
        self.d.wait_for(lambda: Web(self.base).get("/health").status == 200, 20,
                        "admin UI /health")
        self.generated = self.first_password()
        done = self.d.ctl("passwd", input=self.PASSWORD + "\n")
        assert done.returncode == 0, done.stderr
        return self

    def first_password(self) -> str:
        """The password generated and shown once on first start (in the admin-ui log, or
        on the daemon's own stderr)."""
        lines = [e["line"] for e in self.d.call("logs", id="admin-ui", n=500)]
        for line in [*lines, *self.d.daemon_log().splitlines()]:
            match = re.search(r"FIRST START: admin password for user 'admin' is: (\S+)", line)
            if match:
                return match.group(1)
        raise AssertionError("no generated password in the logs")

    def admin(self) -> Web:
        web = Web(self.base)
        assert web.login(self.PASSWORD).status == 200
        return web

    def token(self, role: str, name: str) -> Web:
        created = self.d.ctl_json("token", "create", "--role", role, "--name", name)
        return Web(self.base, token=created["token"])

    def close(self) -> None:
        if self.d.proc is not None and self.d.proc.poll() is None:
            self.d.stop()
        self.d.cleanup()
