"""What every API handler shares: authentication, roles, CSRF, JSON bodies and errors.

A handler declares what it needs as class attributes, which the OpenAPI document is
built from (:mod:`edgeos.admin_ui.openapi`), so the document cannot drift from the code:

* ``roles``: the role each HTTP method needs (default: reads ``viewer``, writes
  ``admin``; ``operator`` sits between them: dashboards and datapoint writes);
  ``public = True`` for routes without login (``/health``, login).
* ``bodies``: the JSON Schema of each method's request body, checked before the
  handler runs (a bad body is a 400 with every problem listed, and nothing changes).
* ``query``: the query parameters of each method; ``path_params``: schemas of the
  URL's ``{placeholders}``.
* ``max_body``: the largest request body the route takes. Bodies are streamed, so the
  limit is checked against ``Content-Length`` (and enforced on chunked bodies) after
  the headers and before a byte of the body is read: an oversized body is a 413 that
  costs the process no memory.
"""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING, Any, ClassVar

import jsonschema
import tornado.web
from edgeos.admin_ui.sessions import CSRF_HEADER, SESSION_COOKIE, Session
from edgeos.common.auth import Principal
from edgeos.ipc import strictjson
from edgeos.ipc.rpc import STATUS, UNKNOWN_COMMAND, RpcError

if TYPE_CHECKING:
    from edgeos.admin_ui.context import Ui

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RPC_STATUS = {code: http for code, (http, _) in STATUS.items()}  # one table: ipc.rpc
LONG_RPC_S = 45.0  # start/stop/restart/panic wait for processes
KIB = 1024
MAX_BODY = 64 * KIB  # a JSON API body
MAX_UPLOAD = 2 * 1024 * KIB  # the largest any route takes (config documents, imports)
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


@tornado.web.stream_request_body
class ApiHandler(tornado.web.RequestHandler):
    """Base of every JSON handler."""

    public: ClassVar[bool] = False
    roles: ClassVar[dict[str, str]] = {}
    bodies: ClassVar[dict[str, dict[str, Any]]] = {}
    query: ClassVar[dict[str, list[dict[str, Any]]]] = {}
    path_params: ClassVar[dict[str, dict[str, Any]]] = {}
    tag: ClassVar[str] = "misc"
    max_body: ClassVar[int] = MAX_BODY
    #: per method, its OpenAPI summary where a base class's method serves several routes
    docs: ClassVar[dict[str, str]] = {}

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
        self._chunks: list[bytes] = []
        method = self.request.method or "GET"
        self.limit_body()
        has_body = (self.request.headers.get("Content-Length", "0") != "0"
                    or "Transfer-Encoding" in self.request.headers)
        if method not in SAFE_METHODS and has_body:
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
        if not self.principal.may(role):
            raise ApiError(403, f"the {self.principal.role} role may not do this",
                           {"needed": role, "have": self.principal.role})
        if method not in SAFE_METHODS and self.session is not None:
            sent = self.request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), self.session.csrf.encode()):
                raise ApiError(403, "CSRF token missing or wrong", {"header": CSRF_HEADER})

    def limit_body(self) -> None:
        """413 for a declared length over ``max_body``; a chunked body that grows past it
        makes the connection drop it (Tornado counts while it reads)."""
        declared = self.request.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            raise ApiError(413, f"request body too large: {int(declared)} bytes, this route "
                           f"takes at most {self.max_body}", {"max_bytes": self.max_body})
        self.request.connection.set_max_body_size(self.max_body)  # type: ignore[union-attr]

    def data_received(self, chunk: bytes) -> None:
        if not self._finished:  # after an early error the rest is discarded
            self._chunks.append(chunk)

    @property
    def body(self) -> bytes:
        """The request body (at most ``max_body`` bytes, see :meth:`limit_body`)."""
        return b"".join(self._chunks)

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
        self.finish(strictjson.dumps({"error": error, "detail": detail}))

    def send(self, doc: Any, status: int = 200) -> None:
        """Write any JSON document (lists too, which ``write`` refuses)."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(strictjson.dumps(doc, ensure_ascii=False))

    def json_body(self) -> Any:
        """The request body, parsed and checked against ``bodies[method]``."""
        method = self.request.method or ""
        raw = self.body
        try:
            doc = strictjson.loads(raw) if raw else None
        except strictjson.JsonValueError as exc:
            raise ApiError(400, f"request body: {exc}") from None
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
            if exc.code == UNKNOWN_COMMAND:
                raise ApiError(501, f"the daemon does not offer {cmd!r} yet") from None
            raise ApiError(RPC_STATUS.get(exc.code, 500), str(exc), exc.detail) from None

    def who(self) -> str:
        return self.principal.label if self.principal else "anonymous"


class NotFound(ApiHandler):
    """Any path no route matches: a JSON 404."""

    public = True

    def prepare(self) -> None:  # type: ignore[override]
        raise ApiError(404, f"no such resource: {self.request.path}")
