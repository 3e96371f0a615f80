"""The routing engine: routing.json -> compiled routes -> deliveries, as a pure library.

Every user loads a table with :func:`check_routes` (the one place routing is checked,
see :mod:`.check`); the broker builds one :class:`Router` and calls :meth:`Router.route`
for every datapoint; :meth:`Router.swap` puts a reloaded table in force without losing
state. See docs in each module.
"""

from .addresses import AddressResolver, resolve
from .check import LOG_TARGET, check_routes, refused_routes
from .engine import MAX_HOPS, Delivery, Router
from .table import Route, RouteTable, RoutingError, load_routing, load_routing_file, routing_schema

__all__ = [
    "LOG_TARGET",
    "MAX_HOPS",
    "AddressResolver",
    "Delivery",
    "Route",
    "RouteTable",
    "Router",
    "RoutingError",
    "check_routes",
    "load_routing",
    "load_routing_file",
    "refused_routes",
    "resolve",
    "routing_schema",
]
