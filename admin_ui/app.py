"""The route table and the Tornado application.

Routes are written as OpenAPI path templates (``/api/connections/{id}``); the regexes
Tornado matches are derived from them and from the handler's ``path_params`` (an
``enum`` becomes an alternation), so the document and the router agree by design.
"""

from __future__ import annotations

import re
from typing import Any

import tornado.web
from edgeos.admin_ui import openapi
from edgeos.admin_ui.context import Ui
from edgeos.admin_ui.handlers import (
    connections,
    dashboards,
    datapoints,
    discover,
    ha,
    health,
    history,
    instances,
    plugins,
    router,
    satellites,
    session,
    system,
    users,
    widgets,
)
from edgeos.admin_ui.handlers.base import MAX_BODY, NotFound
from edgeos.admin_ui.hostcheck import HostCheckedApplication, HostPolicy, log_request
from edgeos.admin_ui.live import LiveSocket

ROUTES: list[tuple[str, type[tornado.web.RequestHandler]]] = [
    ("/health", health.Health),
    ("/status", health.Status),
    ("/metrics", health.Metrics),
    ("/api/openapi.json", openapi.OpenApi),
    ("/api/login", session.Login),
    ("/api/logout", session.Logout),
    ("/api/session", session.WhoAmI),
    ("/api/ws", LiveSocket),
    ("/api/admin/instances/stats", instances.InstanceStats),
    ("/api/admin/instances/{id}/{action}", instances.InstanceAction),
    ("/api/admin/panic", instances.Panic),
    ("/api/admin/recover", instances.Recover),
    ("/api/admin/reload", instances.Reload),
    ("/api/connections", connections.Connections),
    ("/api/connections/{id}", connections.ConnectionItem),
    ("/api/connections/{id}/stats", connections.ConnectionStats),
    ("/api/connections/{id}/browse", discover.ConnectionBrowse),
    ("/api/connections/{id}/{action}", connections.ConnectionSwitch),
    ("/api/router/routes", router.Routes),
    ("/api/router/validate", router.Validate),
    ("/api/router/test", router.RouteTest),
    ("/api/datapoints", datapoints.Datapoints),
    ("/api/datapoints/{address}", datapoints.DatapointItem),
    ("/api/widgets", widgets.Widgets),
    ("/api/widgets/import", widgets.WidgetImport),
    ("/api/widgets/export", widgets.WidgetExport),
    ("/api/widgets/{id}", widgets.WidgetItem),
    ("/api/dashboards", dashboards.Dashboards),
    ("/api/dashboards/template", dashboards.DashboardTemplate),
    ("/api/dashboards/{id}", dashboards.DashboardItem),
    ("/api/blobs/{address}", dashboards.Blob),
    ("/api/plugins", plugins.PluginsList),
    ("/api/plugins/upload", plugins.PluginUpload),
    ("/api/plugins/{action}", plugins.PluginAction),
    ("/api/plugins/jobs/{job}", plugins.PluginJob),
    ("/api/plugins/{name}/readme", plugins.PluginReadme),
    ("/api/system/resources", system.Resources),
    ("/api/logs", system.Logs),
    ("/api/errors", system.Errors),
    ("/api/satellites", satellites.Satellites),
    ("/api/ha", ha.Ha),
    ("/api/ha/{action}", ha.HaAction),
    ("/api/satellites/{action}", satellites.SatelliteAction),
    ("/api/history", history.History),
    ("/api/history.csv", history.HistoryCsv),
    ("/api/history/instances", history.InstanceHistory),
    ("/api/history/stats", history.HistoryStats),
    ("/api/users", users.Users),
    ("/api/users/{name}", users.UserItem),
    ("/api/account/password", users.AccountPassword),
    ("/api/discover", discover.Discover),
    ("/api/discover/{job}", discover.DiscoverJob),
]


def to_regex(path: str, handler: type[tornado.web.RequestHandler]) -> str:
    """``/api/x/{id}/{action}`` -> ``/api/x/([^/]+)/(start|stop)$`` (positional groups)."""
    params: dict[str, Any] = getattr(handler, "path_params", {})

    def group(match: re.Match[str]) -> str:
        name = match.group(1)
        schema = params.get(name, {})
        if "enum" in schema:
            return "(" + "|".join(re.escape(v) for v in schema["enum"]) + ")"
        return "(.+)" if name == "address" else "([^/]+)"

    return openapi.PLACEHOLDER.sub(group, re.escape(path).replace(r"\{", "{")
                                   .replace(r"\}", "}")) + "$"


def make_app(ui: Ui, host_policy: HostPolicy | None = None,
             **settings: Any) -> tornado.web.Application:
    static = session.STATIC
    rules: list[Any] = [
        (r"/", session.Page, {"page": "index.html", "login_required": True}),
        (r"/login", session.Page, {"page": "login.html", "login_required": False}),
        (r"/static/(.*)", session.Static, {"path": str(static)}),
    ]
    rules += [(to_regex(path, handler), handler) for path, handler in ROUTES]
    return HostCheckedApplication(
        rules, edge=ui, openapi=openapi.build(ROUTES), default_handler_class=NotFound,
        xsrf_cookies=False,  # CSRF is the session's own token (handlers.base)
        websocket_ping_interval=20, websocket_max_message_size=MAX_BODY,
        host_policy=host_policy or HostPolicy("127.0.0.1"), log_function=log_request,
        **settings)

