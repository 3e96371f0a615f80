"""The OpenAPI 3.1 document, built from the route table and the handlers themselves.

Paths come from :data:`edgeos.admin_ui.app.ROUTES`; per method the summary is the handler
method's docstring (or the handler's ``docs`` entry for it), the required role, the
request body schema (the very schema the handler validates against), query and path
parameters come from the handler's class attributes. A route cannot exist without
showing up here.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import tornado.web
import tornado.websocket
from edgeos.admin_ui.handlers.base import ApiHandler
from edgeos.admin_ui.sessions import CSRF_HEADER, SESSION_COOKIE

METHODS = ("get", "post", "put", "delete")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
ERROR_STATUSES = {
    "400": "bad input: every problem is listed in detail; nothing changed",
    "401": "no or invalid session or token",
    "403": "the role may not do this, or the CSRF token is missing",
    "404": "no such instance, datapoint, route or widget",
    "409": "refused in the current state (panic, stopped, exists already)",
    "503": "a needed process (supervisor, broker) does not answer",
}


def implemented(handler: type[tornado.web.RequestHandler]) -> list[str]:
    """The HTTP methods a handler class implements itself."""
    return [m for m in METHODS
            if getattr(handler, m) is not getattr(tornado.web.RequestHandler, m)]


def _split_doc(fn: Any, doc: str | None = None) -> tuple[str, str]:
    text = " ".join((doc or inspect.getdoc(fn) or "").split())
    first = re.split(r"(?<=[.:;])\s", text, maxsplit=1)[0].rstrip(".:;")
    return first[:120], text


def _operation(path: str, method: str, handler: type[ApiHandler]) -> dict[str, Any]:
    summary, description = _split_doc(getattr(handler, method), handler.docs.get(method))
    verb = method.upper()
    role = handler.role_for(verb)
    op: dict[str, Any] = {
        "operationId": f"{method}{handler.__name__}",
        "summary": summary, "description": description, "tags": [handler.tag],
        "x-role": role or "none",
        "parameters": [
            {"name": name, "in": "path", "required": True,
             "schema": handler.path_params.get(name, {"type": "string"})}
            for name in PLACEHOLDER.findall(path)
        ] + [{"in": "query", "required": False, **p} for p in handler.query.get(verb, [])],
        "responses": {"200": {"description": "OK", "content": {"application/json": {}}},
                      **{code: {"$ref": f"#/components/responses/E{code}"}
                         for code in ERROR_STATUSES}},
    }
    if role is None:
        op["security"] = []
    elif verb in ("GET", "HEAD"):
        op["security"] = [{"session": []}, {"bearer": []}]
    else:
        op["security"] = [{"session": [], "csrf": []}, {"bearer": []}]
    if verb in handler.bodies:
        op["requestBody"] = {"required": True, "x-max-bytes": handler.max_body, "content": {
            "application/json": {"schema": handler.bodies[verb]}}}
        op["responses"]["413"] = {
            "description": f"the body is over {handler.max_body} bytes (detail.max_bytes)",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if not op["parameters"]:
        del op["parameters"]
    return op


def _websocket(handler: type[tornado.websocket.WebSocketHandler]) -> dict[str, Any]:
    summary, description = _split_doc(handler)
    return {"get": {"operationId": f"get{handler.__name__}", "summary": summary,
                    "description": (inspect.getmodule(handler).__doc__ or "").strip()
                    or description,
                    "tags": ["live"], "x-role": "viewer",
                    "security": [{"session": []}, {"bearer": []}],
                    "responses": {"101": {"description": "switching to WebSocket"},
                                  "401": {"$ref": "#/components/responses/E401"}}}}


def build(routes: list[tuple[str, type[tornado.web.RequestHandler]]],
          version: str = "0.1.0") -> dict[str, Any]:
    """The document for the documented routes (``/api/*``, ``/health``, ``/status``,
    ``/metrics``); HTML pages and static files are left out."""
    paths: dict[str, Any] = {}
    for path, handler in routes:
        if issubclass(handler, tornado.websocket.WebSocketHandler):
            paths[path] = _websocket(handler)
        elif issubclass(handler, ApiHandler):
            paths[path] = {m: _operation(path, m, handler) for m in implemented(handler)}
    error = {"type": "object", "required": ["error"],
             "properties": {"error": {"type": "string"}, "detail": {}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "SmartHome Edge OS admin API", "version": version,
                 "description": "Everything under /api needs a session cookie (POST "
                                "/api/login) or a bearer token (edgectl token create). "
                                f"Browser sessions send {CSRF_HEADER} on writes. Errors "
                                "are {\"error\", \"detail\"}."},
        "paths": paths,
        "components": {
            "schemas": {"Error": error},
            "responses": {f"E{code}": {"description": text, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                for code, text in ERROR_STATUSES.items()},
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
                "csrf": {"type": "apiKey", "in": "header", "name": CSRF_HEADER},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }


class OpenApi(ApiHandler):
    tag = "docs"

    async def get(self) -> None:
        """This document."""
        self.send(self.settings["openapi"])
