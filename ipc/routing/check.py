"""The one place routing is checked: the broker (routing.json at start and reload), the
supervisor (``validate_routes`` and ``save_routes``: a document from the UI or a client,
``connections``: the routes in force against a new instance set) and ``edgectl
validate`` (a config dir, offline) all ask :func:`check_routes`, so a document valid in
one is valid in all. What may be addressed: the instance ids (satellites' ids too) and
the ``log`` target.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from edgeos.ipc.rpc import BAD_REQUEST, RpcError

from .table import RouteTable, RoutingError, load_routing, load_routing_file

ROUTING = "routing.json"
LOG_TARGET = "log"  # ``log.<channel>`` targets write a line to the system log


def check_routes(source: Path | Any, instance_ids: Collection[str],
                 name: str = ROUTING) -> RouteTable:
    """Load ``source`` (a routing.json path, or a document called ``name`` in messages)
    against ``instance_ids``; RoutingError lists every problem."""
    ids = [*dict.fromkeys([*instance_ids, LOG_TARGET])]
    if isinstance(source, Path):
        return load_routing_file(source, instance_ids=ids)
    return load_routing(source, source=name, instance_ids=ids)


@contextlib.contextmanager
def refused_routes() -> Iterator[None]:
    """On the RPC sockets a refused document is a ``bad_request`` listing every problem."""
    try:
        yield
    except RoutingError as exc:
        raise RpcError(f"invalid {ROUTING}, routes unchanged", BAD_REQUEST,
                       exc.errors) from None
