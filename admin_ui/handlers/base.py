"""What every API handler shares: authentication, roles, CSRF, JSON bodies and errors.

A handler declares what it needs as class attributes, which the OpenAPI document is
built from (:mod:`edgeos.admin_ui.openapi`), so the document cannot drift from the code:

* ``roles``: the role each HTTP method needs (default: reads ``viewer``, writes
  ``admin``); ``public = True`` for routes without login (``/health``, login).
* ``bodies``: the JSON Schema of each method's request body, checked before the
  handler runs (a bad body is a 400 with every problem listed, and nothing changes).
* ``query``: the query parameters of each method; ``path_params``: schemas of the
  URL's ``{placeholders}``.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING, Any, ClassVar

import jsonschema
import tornado.web
from edgeos.admin_ui.auth import Principal
from edgeos.admin_ui.sessions import CSRF_HEADER, SESSION_COOKIE, Session
from edgeos.ipc.rpc import BAD_REQUEST, INTERNAL, NOT_FOUND, REFUSED, UNAVAILABLE, RpcError

if TYPE_CHECKING:
    from edgeos.admin_ui.context import Ui

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RPC_STATUS = {REFUSED: 409, NOT_FOUND: 404, BAD_REQUEST: 400, UNAVAILABLE: 503, INTERNAL: 500}
LONG_RPC_S = 45.0  # start/stop/restart/panic wait for processes
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; connect-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
}


class ApiError(tornado.web.HTTPError):
    """An HTTP error with the JSON body ``{"error": ..., "detail": ...}``."""

    def __init__(self, status: int, error: str, detail: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status, log_message=error.replace("%", "%%"))
        self.error = error
        self.detail = detail
        self.headers = headers or {}


def authenticate(handler: tornado.web.RequestHandler) -> Principal | None:
    """A bearer token, else a live session cookie; sets ``handler.session`` for CSRF."""
    ui: Ui = handler.settings["edge"]
    header = handler.request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return ui.auth.check_token(header[7:].strip())
    sid = handler.get_cookie(SESSION_COOKIE)
    session = ui.sessions.get(sid)
    if session is None:
        return None
    if ui.auth.generation(session.user) != session.generation:  # password changed
        ui.sessions.end(session.id)
        return None
    handler.session = session  # type: ignore[attr-defined]
    return Principal(session.user, session.role, "user", session.generation)


class ApiHandler(tornado.web.RequestHandler):
    """Base of every JSON handler."""

    public: ClassVar[bool] = False
    roles: ClassVar[dict[str, str]] = {}
    bodies: ClassVar[dict[str, dict[str, Any]]] = {}
    query: ClassVar[dict[str, list[dict[str, Any]]]] = {}
    path_params: ClassVar[dict[str, dict[str, Any]]] = {}
    tag: ClassVar[str] = "misc"

    principal: Principal | None
    session: Session | None

    @classmethod
    def role_for(cls, method: str) -> str | None:
        if cls.public:
            return None
        return cls.roles.get(method, "viewer" if method in SAFE_METHODS else "admin")

    @property
    def edge(self) -> Ui:
        return self.settings["edge"]

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)
        self.set_header("Cache-Control", "no-store")

    async def prepare(self) -> None:
        self.session = None
        self.principal = None
        method = self.request.method or "GET"
        if method not in SAFE_METHODS and self.request.body:
            ctype = self.request.headers.get("Content-Type", "").split(";")[0].strip()
            if ctype != "application/json":
                raise ApiError(415, "request bodies must be application/json")
        role = self.role_for(method)
        if role is None:
            return
        self.principal = authenticate(self)
        if self.principal is None:
            raise ApiError(401, "authentication required: log in or send a bearer token",
                           headers={"WWW-Authenticate": 'Bearer realm="edgeos"'})
        if role == "admin" and not self.principal.is_admin:
            raise ApiError(403, f"the {self.principal.role} role may not do this",
                           {"needed": role, "have": self.principal.role})
        if method not in SAFE_METHODS and self.session is not None:
            sent = self.request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), self.session.csrf.encode()):
                raise ApiError(403, "CSRF token missing or wrong", {"header": CSRF_HEADER})

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, ApiError) and value.status_code < 500:
            log.debug("%s %s: %d %s", self.request.method, self.request.path,
                      value.status_code, value.error)
            return
        super().log_exception(typ, value, tb)
        if not isinstance(value, ApiError | tornado.web.HTTPError) and self.edge.link:
            # a bug behind a 500: into the supervisor's error store with its traceback
            self.edge.link.error(value, fatal=False,
                                 where=f"{self.request.method} {self.request.path}")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            error, detail = exc.error, exc.detail
            for name, value in exc.headers.items():  # send_error cleared the headers
                self.set_header(name, value)
        elif isinstance(exc, tornado.web.HTTPError):
            error, detail = exc.log_message or self._reason, None
        else:
            error, detail = "internal error", None
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"error": error, "detail": detail}, default=str))

    def send(self, doc: Any, status: int = 200) -> None:
        """Write any JSON document (lists too, which ``write`` refuses)."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(doc, ensure_ascii=False, default=str))

    def json_body(self) -> Any:
        """The request body, parsed and checked against ``bodies[method]``."""
        method = self.request.method or ""
        raw = self.request.body
        try:
            doc = json.loads(raw) if raw else None
        except ValueError as exc:
            raise ApiError(400, f"invalid JSON: {exc}") from None
        schema = self.bodies.get(method)
        if schema is not None:
            if doc is None:
                doc = {} if schema.get("type") == "object" else None
            problems = [f"{'.'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
                        for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]
            if problems:
                raise ApiError(400, "invalid request body", sorted(problems))
        return doc

    def int_arg(self, name: str, default: int, lo: int = 0, hi: int = 100_000) -> int:
        raw = self.get_query_argument(name, None)
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, f"{name} must be an integer") from None
        if not lo <= value <= hi:
            raise ApiError(400, f"{name} must be between {lo} and {hi}")
        return value

    async def rpc(self, cmd: str, timeout: float | None = None, **args: Any) -> Any:
        """A supervisor command; its refusal becomes the fitting HTTP error."""
        try:
            return await self.edge.control.call(cmd, timeout=timeout, **args)
        except RpcError as exc:
            if exc.code == BAD_REQUEST and str(exc).startswith("unknown command"):
                raise ApiError(501, f"the daemon does not offer {cmd!r} yet") from None
            raise ApiError(RPC_STATUS.get(exc.code, 500), str(exc), exc.detail) from None

    def who(self) -> str:
        return self.principal.label if self.principal else "anonymous"


class NotFound(ApiHandler):
    """Any path no route matches: a JSON 404."""

    public = True

    def prepare(self) -> None:  # type: ignore[override]
        raise ApiError(404, f"no such resource: {self.request.path}")
