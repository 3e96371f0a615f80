"""The broker's per-datapoint work, without sockets: store, route, queue commands.

Two paths give the same result:

- the fast path (:mod:`edgeos.ipc.broker.fastpath`, in C when built) for the common case: a
  reported scalar value (ack true, no origin chain, a known quality) whose routes all
  deliver it unchanged. What happens to such a value depends only on its source and
  path, so it is worked out once into a *plan*: per target, that instance's outbox
  list, the target path and the origin chain as msgpack (the command is queued
  encoded) and the route's tally;
- the general path (:meth:`Dispatcher.item`) for everything else: commands (ack
  false) over bidirectional routes, origin chains, transforms, conditions, schedules,
  the ``log`` target, malformed items. It validates, asks the router, and queues.

The fast path stops at the first item it cannot take; that item goes the general way
and the fast path resumes after it, so a batch is handled in order. Plans are dropped
whenever what they were computed from changes: the route table (:meth:`swap`) or the
set of instances (:meth:`set_instances`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from edgeos.ipc import protocol
from edgeos.ipc.broker import fastpath
from edgeos.ipc.broker.store import UNPLANNED, LastValues
from edgeos.ipc.routing import LOG_TARGET, AddressResolver, Router, RouteTable

try:
    from edgeos.ipc.broker._fastpath import join as fast_join
    from edgeos.ipc.broker._fastpath import run as fast_run
except ImportError:  # built without a C compiler
    fast_run, fast_join = fastpath.run, fastpath.join

syslog = logging.getLogger("log")

LOG_INSTANCE = LOG_TARGET
QUALITIES = protocol.QUALITIES  # a tuple: membership by ==, so any item value is safe
SLOW = None
"""The plan of a datapoint that must take the general path."""

# One delivery of a plan: (outbox list, msgpack head: array and target path, msgpack of
# the origin chain, route tally).
Hop = tuple[list[Any], bytes, bytes, list[Any]]
Plan = tuple[Hop, ...] | None
Outbox = dict[str, list[Any]]
"""Commands per target instance: tuples ``(path, value, ts, origin[, cmd_id])`` from the
general path, msgpack bytes of ``(path, value, ts, origin)`` from the fast path."""


def pack_commands(commands: list[Any]) -> bytes:
    """The body of a CMD message: an outbox list as one msgpack array."""
    return fastpath.pack_commands(commands, fast_join)


class Dispatcher:
    """Turns worker batches into stored last values and queued commands (``outbox``)."""

    def __init__(self, values: LastValues, router: Router, instance_ids: Sequence[str],
                 counters: defaultdict[str, int],
                 fast: Callable[..., int] = fast_run) -> None:
        self.fast = fast
        self.values = values
        self.router = router
        self.resolver = AddressResolver([*instance_ids, LOG_INSTANCE])
        self.counters = counters
        self.outbox: defaultdict[str, list[Any]] = defaultdict(list)
        """Commands per target instance; the broker sends them and empties the lists in
        place (plans hold the lists themselves)."""
        self.ack_waiters: dict[str, asyncio.Future[Any]] = {}

    # -- what plans depend on -----------------------------------------------------------
    def swap(self, table: RouteTable) -> None:
        self.router.swap(table)
        self.values.forget_plans()

    def set_instances(self, instance_ids: Sequence[str]) -> None:
        self.resolver = AddressResolver([*instance_ids, LOG_INSTANCE])
        self.values.forget_plans()

    def _plan(self, source: str, path: str) -> Plan:
        address = f"{source}.{path}"
        plain = self.router.plain_targets(address)
        if plain is None:
            return SLOW
        hops = []
        for target, tally in plain:
            resolved = self.resolver.resolve(target)
            if resolved is None or resolved[0] == LOG_INSTANCE:
                return SLOW  # the general path counts or logs it
            instance, target_path = resolved
            hops.append((self.outbox[instance], fastpath.head(target_path),
                         protocol.pack((address,)), tally))
        return tuple(hops)

    # -- hot path -----------------------------------------------------------------------
    def batch(self, source: str, items: Any) -> tuple[int, bool]:
        """Take one DP batch from ``source``; returns (datapoints accepted, all were valid)."""
        if type(items) is not tuple and type(items) is not list:
            self.counters["malformed"] += 1
            return 0, False
        if self.ack_waiters:  # a fail-safe write is waiting for its echo
            accepted = sum(self.item(source, item) for item in items)
            return accepted, accepted == len(items)
        points, unsaved = self.values.of(source)
        fast = self.fast
        rejected = 0
        i, n = 0, len(items)
        while (i := fast(items, i, points, unsaved)) < n:
            item = items[i]
            path = item[0] if type(item) in (tuple, list) and item else None
            if type(path) is str:
                point = self.values.point(source, path)
                if point[1] is UNPLANNED:
                    point[1] = self._plan(source, path)
                    continue  # the fast path may take it now
            if not self.item(source, item):
                rejected += 1
            i += 1
        return n - rejected, not rejected

    def item(self, source: str, item: Any) -> bool:
        """The general path for one datapoint; False (and counted) if it is malformed."""
        try:
            path, value, ts, quality, ack, _unit = item
            origin: tuple[str, ...] = ()
        except (ValueError, TypeError):
            if type(item) not in (tuple, list) or len(item) != 7 \
                    or type(item[6]) not in (tuple, list):
                self.counters["malformed"] += 1
                return False
            path, value, ts, quality, ack, _unit, hops = item
            origin = tuple(hops)
        if type(path) is not str or quality not in QUALITIES:
            self.counters["malformed"] += 1
            return False
        address = f"{source}.{path}"
        deliveries = self.router.route(address, value, ts, quality, ack, origin)
        if deliveries:
            self.queue(deliveries, ts, (*origin, address))
        self.values.put(source, item)
        if ack and address in self.ack_waiters:
            waiter = self.ack_waiters.pop(address)
            if not waiter.done():
                waiter.set_result(value)
        return True

    def queue(self, deliveries: Sequence[tuple[str, Any, str]], ts: int,
              origin: tuple[str, ...], out: Outbox | None = None) -> None:
        """Queue ``(target address, value, route id)`` deliveries as commands in ``out``
        (default: the outbox); ``log.<channel>`` targets are written to the system log."""
        out = self.outbox if out is None else out
        for target, value, route_id in deliveries:
            resolved = self.resolver.resolve(target)
            if resolved is None:
                self.counters["undeliverable"] += 1
                continue
            instance, path = resolved
            if instance == LOG_INSTANCE:
                syslog.info("%s: %s = %r (route %s)", path, origin[-1] if origin else "-",
                            value, route_id)
                continue
            out.setdefault(instance, []).append((path, value, ts, origin))

    def command(self, address: str, value: Any, origin: tuple[str, ...] = (),
                out: Outbox | None = None, cmd_id: int | None = None) -> None:
        """A command to ``address`` (from ``set``, a bridge, Node-RED): deliver it, and let
        bidirectional routes carry it back to their source. With ``cmd_id`` the target
        answers accepted, confirmed or refused (see :mod:`edgeos.ipc.protocol`)."""
        ts = protocol.now_ms()
        if cmd_id is None:
            self.queue([(address, value, "")], ts, origin, out)
        else:
            resolved = self.resolver.resolve(address)
            if resolved is not None and resolved[0] != LOG_INSTANCE:
                out = self.outbox if out is None else out
                out.setdefault(resolved[0], []).append((resolved[1], value, ts, origin, cmd_id))
        back = self.router.route(address, value, ts, "good", False, origin)
        if back:
            self.queue(back, ts, (*origin, address), out)
