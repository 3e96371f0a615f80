"""The routing engine: routing.json -> compiled routes -> deliveries, as a pure library.

The broker loads a table with :func:`load_routing_file` (or :func:`load_routing`), builds one
:class:`Router` and calls :meth:`Router.route` for every datapoint; :meth:`Router.swap`
puts a reloaded table in force without losing state. See docs in each module.
"""

from .addresses import AddressResolver, resolve
from .engine import MAX_HOPS, Delivery, Router
from .table import Route, RouteTable, RoutingError, load_routing, load_routing_file, routing_schema

__all__ = [
    "MAX_HOPS",
    "AddressResolver",
    "Delivery",
    "Route",
    "RouteTable",
    "Router",
    "RoutingError",
    "load_routing",
    "load_routing_file",
    "resolve",
    "routing_schema",
]
