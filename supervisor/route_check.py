"""The route commands' check, run in the validation helper (issue 16, RSS).

``validate_routes``, ``save_routes`` and ``connections`` check a routing document with
:func:`edgeos.ipc.routing.check_routes`, the one check the broker and ``edgectl`` use.
Its schema step imports jsonschema (with referencing, attrs and rpds ~4 MB of RSS) and
the routing engine; in the supervisor they stayed for good after the first route edit.
The supervisor therefore asks :class:`~edgeos.supervisor.validator_process.ValidatorProcess`
(set with :func:`check_elsewhere`), which runs :func:`outcome` there: the same check,
the same warnings, and the same refusal, rebuilt here from the message, code and detail
of the :class:`~edgeos.ipc.rpc.RpcError` that :func:`~edgeos.ipc.routing.refused_routes`
raised in the helper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgeos.ipc.rpc import RpcError

#: (warnings, None) for an accepted document; ([], (message, code, detail)) for a refused one
Outcome = tuple[list[str], tuple[str, str, Any] | None]

# Where outcome() runs when not here: the supervisor sets its ValidatorProcess.routes.
_elsewhere: Callable[[Any, list[str]], Outcome] | None = None


def check_elsewhere(check: Callable[[Any, list[str]], Outcome] | None) -> None:
    """Run every route check of this process through ``check(doc, ids)`` (None: in this
    process again)."""
    global _elsewhere
    _elsewhere = check


def outcome(doc: Any, ids: list[str]) -> Outcome:
    """Check ``doc`` against the instance ids ``ids`` in this process."""
    from edgeos.ipc.routing import check_routes, refused_routes

    try:
        with refused_routes():
            return check_routes(doc, ids).warnings, None
    except RpcError as exc:
        return [], (str(exc), exc.code, exc.detail)


def warnings(doc: Any, ids: list[str]) -> list[str]:
    """The warnings of an accepted ``doc``; a refused one raises the ``bad_request`` that
    lists every problem, as :func:`~edgeos.ipc.routing.refused_routes` does."""
    found, refusal = (_elsewhere or outcome)(doc, ids)
    if refusal is not None:
        raise RpcError(*refusal)
    return found
