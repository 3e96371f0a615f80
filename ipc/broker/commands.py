"""The broker's control commands (``broker-ctl.sock``), one class each, declared like the
supervisor's (:mod:`edgeos.ipc.commands`). Only the supervisor (and, for ``datapoints``,
the MQTT bridge's catalog) calls them; the supervisor passes some on to its clients
(``get``, ``route_test``, ``datapoints``, ``routes``, ``blob``) with these declarations.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, ClassVar

from edgeos.ipc import protocol
from edgeos.ipc.broker.writes import CONFIRMED, REFUSED, SENT, TIMEOUT, WAIT_DEFAULT_S, WAIT_MAX_S
from edgeos.ipc.changes import MIRRORED
from edgeos.ipc.commands import Arg, Command
from edgeos.ipc.rpc import BAD_REQUEST, NOT_FOUND, RpcError

if TYPE_CHECKING:  # the routing engine is imported where it works: edgectl reads these too
    from edgeos.ipc.broker.broker import Broker
    from edgeos.ipc.broker.dispatch import Outbox
    from edgeos.ipc.routing import RouteTable

log = logging.getLogger("broker")

ADDRESS = Arg("address", required=True, help="a datapoint address: <instance>.<path>",
              least=1, most=1024)
INSTANCE = Arg("id", required=True, help="an instance id", least=1, most=200)
INSTANCES = Arg("instances", "dict", required=True,
                help="the instance table: id -> {type, max_pps, cut}", most=100_000)
MAX_LIST = 100_000


class BrokerCommand(Command):
    """Base of the broker's commands: ``self.broker`` is the running broker."""

    registry: ClassVar[dict[str, type[Command]]] = {}

    def __init__(self, broker: Broker) -> None:
        self.broker = broker


class Get(BrokerCommand):
    """Read the last value of a datapoint."""

    name = "get"
    args = (ADDRESS,)

    async def execute(self, args: dict[str, Any]) -> Any:
        entry = self.broker.values.get(args["address"])
        if entry is None:
            raise RpcError(f"no value for {args['address']!r}", NOT_FOUND)
        return self.broker.entry(args["address"], entry)


class Blob(BrokerCommand):
    """The bytes of a blob datapoint (an image, a file), with its value entry."""

    name = "blob"
    args = (ADDRESS,)

    async def execute(self, args: dict[str, Any]) -> Any:
        address = args["address"]
        data, entry = self.broker.blobs.get(address), self.broker.values.get(address)
        if data is None or entry is None:
            raise RpcError(f"no blob for {address!r}", NOT_FOUND)
        return {**self.broker.entry(address, entry), "data": data.bytes}


class Set(BrokerCommand):
    """Write a datapoint and wait for the device: confirmed, refused (why) or timeout."""

    name = "set"
    args = (ADDRESS, Arg("value", "any", help="the value to write"),
            Arg("wait", "bool", default=True,
                help="wait for the device's answer (false: send and return)"),
            Arg("wait_s", "float", default=WAIT_DEFAULT_S, most=WAIT_MAX_S,
                help="seconds to wait for the device"))

    async def execute(self, args: dict[str, Any]) -> Any:
        broker, address, value, wait_s = (self.broker, args["address"], args["value"],
                                          float(args["wait_s"]))
        if wait_s <= 0:
            raise RpcError(f"wait_s: more than 0 and at most {WAIT_MAX_S:g} s, not "
                           f"{wait_s:g}", BAD_REQUEST)
        t0 = time.monotonic()
        result: dict[str, Any] = {"address": address, "value": value, "refusal": None,
                                  "reason": None, "routes_in": broker.routed().get(address, [])}
        refused = broker.refusal_before(address)
        if refused is not None:
            broker.writes.refused[address.partition(".")[0]] += 1
            return {**result, "outcome": REFUSED, "refusal": refused[0], "reason": refused[1],
                    "seconds": 0.0}
        out: Outbox = {}
        if not args["wait"]:
            broker.dispatch.command(address, value, out=out)
            broker.send_elsewhere(out)
            return {**result, "outcome": SENT, "sent_to": sorted(out), "seconds": 0.0}
        cmd_id, waiter = broker.writes.wait(address)
        try:
            broker.dispatch.command(address, value, out=out, cmd_id=cmd_id)
            broker.send_elsewhere(out)
            try:
                outcome, refusal, reason = await asyncio.wait_for(
                    asyncio.shield(waiter.future), wait_s)
            except TimeoutError:
                outcome, refusal = TIMEOUT, None
                reason = (f"accepted, but the device reported no value within {wait_s:g} s"
                          if waiter.accepted else f"no answer within {wait_s:g} s")
        finally:
            broker.writes.drop(cmd_id)
        result.update(outcome=outcome, refusal=refusal, reason=reason, sent_to=sorted(out),
                      seconds=round(time.monotonic() - t0, 3))
        if outcome == CONFIRMED:
            entry = broker.values.get(address)
            result["reported"] = None if entry is None else entry[1]
        return result


class Failsafe(BrokerCommand):
    """Panic's first step: write fail-safe values (even when frozen) and wait for each
    device to report its value back (ack true), at most ``wait_s`` seconds."""

    name = "failsafe"
    args = (Arg("writes", "dict", required=True, help="address -> fail-safe value",
                most=MAX_LIST),
            Arg("wait_s", "float", default=1.0, least=0, most=30,
                help="seconds to wait for the devices' acknowledgements"))

    async def execute(self, args: dict[str, Any]) -> Any:
        dispatch, writes = self.broker.dispatch, args["writes"]
        loop = asyncio.get_running_loop()
        out: Outbox = {}
        waiters = {}
        for address, value in writes.items():
            dispatch.queue([(str(address), value, "failsafe")], protocol.now_ms(), (), out)
            waiters[address] = dispatch.ack_waiters[address] = loop.create_future()
        self.broker.send_elsewhere(out, force=True)
        if waiters:
            await asyncio.wait(list(waiters.values()), timeout=args["wait_s"])
        result = {a: {"value": writes[a], "acked": f.done()} for a, f in waiters.items()}
        for address in waiters:
            dispatch.ack_waiters.pop(address, None)
        return result


class Freeze(BrokerCommand):
    """Stop (panic) or resume routed delivery to devices."""

    name = "freeze"
    args = (Arg("frozen", "bool", required=True, help="true: no routed delivery"),)

    async def execute(self, args: dict[str, Any]) -> Any:
        self.broker.frozen = args["frozen"]
        log.warning("routing delivery %s", "frozen (panic)" if args["frozen"] else "resumed")
        return {"frozen": args["frozen"]}


class RouteTest(BrokerCommand):
    """Dry-run a value through the routes: which fire, and what each target would get."""

    name = "route_test"
    args = (ADDRESS, Arg("value", "any", help="the value to route"),
            Arg("ack", "bool", default=True, help="false: as a command, not a report"))

    async def execute(self, args: dict[str, Any]) -> Any:
        return {"address": args["address"], "value": args["value"],
                "routes": self.broker.router.dry_run(args["address"], args["value"],
                                                     args["ack"])}


class Datapoints(BrokerCommand):
    """List datapoints under a prefix, or matching a search."""

    name = "datapoints"
    args = (Arg("prefix", default="", help="addresses starting with this", most=1024),
            Arg("q", default="", help="addresses containing this (any case)", most=1024),
            Arg("limit", "int", default=1000, least=0, most=1_000_000,
                help="at most this many entries"))

    async def execute(self, args: dict[str, Any]) -> Any:
        return self.broker.datapoints(args["prefix"], args["q"], args["limit"])


class Routes(BrokerCommand):
    """Show the routes in force with their counters."""

    name = "routes"
    args = ()

    async def execute(self, args: dict[str, Any]) -> Any:
        router = self.broker.router
        return {"routes": router.table.to_doc().get("routes", []),
                "counters": router.counters(), "warnings": router.table.warnings,
                "loops_stopped": router.loops_stopped}


class RoutesFileCommand(BrokerCommand):
    """Base: routing.json on disk, checked against an instance set."""

    def load(self, ids: list[str]) -> RouteTable:
        from edgeos.ipc.routing import refused_routes  # here: edgectl reads this module

        with refused_routes():
            return self.broker.routes_file.load(ids)


class CheckRoutesFile(RoutesFileCommand):
    """Check routing.json on disk against an instance set without taking it (reload's
    first step). ``validate_routes`` on the control socket checks a given document."""

    name = "check_routes_file"
    args = (Arg("instance_ids", "list", required=True, most=MAX_LIST,
                help="the instance (and satellite) ids the routes may address"),)

    async def execute(self, args: dict[str, Any]) -> Any:
        warnings = self.load([str(i) for i in args["instance_ids"]]).warnings
        self.broker.routes_file.done_taking()  # only checked: nothing is being taken
        return {"warnings": warnings}


class Instances(BrokerCommand):
    """Replace the instance table (ids, pps limits, cut flags); the routes stay."""

    name = "instances"
    args = (INSTANCES,)

    async def execute(self, args: dict[str, Any]) -> Any:
        self.broker.set_instances(args["instances"])
        return {"instances": len(args["instances"])}


class Reload(RoutesFileCommand):
    """Take a new instance table and routing.json (refused whole if it does not load)."""

    name = "reload"
    args = (INSTANCES,)

    async def execute(self, args: dict[str, Any]) -> Any:
        from edgeos.ipc.broker import routesfile

        broker, instances = self.broker, args["instances"]
        table = self.load(list(instances))
        broker.set_instances(instances)
        broker.dispatch.swap(table)
        broker.routing_refused = None
        broker.settle_at = time.monotonic() + routesfile.STABLE_S
        log.info("routes reloaded: %d routes", len(table.routes))
        return {"routes": len(table.routes), "warnings": table.warnings}


class States(BrokerCommand):
    """The supervisor tells each instance's state (bridges ask for them over their link)."""

    name = "states"
    args = (Arg("states", "dict", required=True, most=100_000,
                help="instance id -> its state"),)

    async def execute(self, args: dict[str, Any]) -> Any:
        self.broker.states = {str(i): str(s) for i, s in args["states"].items()}
        return {"instances": len(self.broker.states)}


class Stats(BrokerCommand):
    """The broker's figures (as in its heartbeat)."""

    name = "stats"
    args = ()

    async def execute(self, args: dict[str, Any]) -> Any:
        return self.broker.stats()


class Cut(BrokerCommand):
    """Cut an instance from the router, or put it back."""

    name = "cut"
    args = (INSTANCE, Arg("cut", "bool", required=True, help="true: cut; false: put back"))

    async def execute(self, args: dict[str, Any]) -> Any:
        (self.broker.cut.add if args["cut"] else self.broker.cut.discard)(args["id"])
        return {"id": args["id"], "cut": args["cut"]}


class Reactivate(BrokerCommand):
    """Lift the spam guard's suspension of an instance."""

    name = "reactivate"
    args = (INSTANCE,)

    async def execute(self, args: dict[str, Any]) -> Any:
        self.broker.guard.reactivate(args["id"])
        return {"id": args["id"]}


class MirrorSnapshot(BrokerCommand):
    """Every last value by source, for a standby core's first sync (HA mirror)."""

    name = "mirror_snapshot"
    args = ()

    async def execute(self, args: dict[str, Any]) -> Any:
        out: dict[str, list[Any]] = {}
        for source, points in self.broker.values.sources.items():
            items = [list(p[0]) for p in points.values() if p[0] is not None]
            if items:
                out[source] = items
        return out


class MirrorPut(BrokerCommand):
    """A standby core keeps the primary's last values: stored (and persisted like its
    own), never routed, so mirroring actuates nothing. They go out on the change feed
    too, marked as mirrored (:data:`edgeos.ipc.changes.MIRRORED`), so the standby's
    historian records them (by the mirrored ``history`` settings), except those of
    instances running here (``mirror`` ones), whose own values are already on it.
    A snapshot (``publish`` false) is stored only: it is state, not a change."""

    name = "mirror_put"
    args = (Arg("batches", "list", required=True, most=MAX_LIST,
                help="[source, [value items]] pairs from the primary's change feed"),
            Arg("publish", "bool", default=True,
                help="false for a snapshot: stored, not put on the change feed"))

    async def execute(self, args: dict[str, Any]) -> Any:
        n = 0
        for batch in args["batches"]:
            if not (isinstance(batch, list | tuple) and len(batch) == 2
                    and isinstance(batch[1], list | tuple)):
                raise RpcError("batches: each is [source, [items]]", BAD_REQUEST)
            source, items = str(batch[0]), batch[1]
            good = [tuple(item[:6]) for item in items
                    if isinstance(item, list | tuple) and len(item) >= 6
                    and isinstance(item[0], str)]
            if not args["publish"]:  # a snapshot is older than a change sent before it
                good = [item for item in good if not self._newer_held(source, item)]
            for item in good:
                self.broker.values.put(source, item)
            n += len(good)
            if good and args["publish"] and self.broker.states.get(source) != "running":
                self.broker.changes.send_multipart([f"{MIRRORED}{source}.".encode(),
                                                    protocol.pack(good)])
        return {"stored": n}

    def _newer_held(self, source: str, item: tuple[Any, ...]) -> bool:
        """A change mirrored since the primary took its snapshot already holds a newer
        value of this datapoint (its source timestamp is later)."""
        point = self.broker.values.sources.get(source, {}).get(item[0])
        held = point[0] if point is not None else None
        try:
            return held is not None and held[2] > item[2]
        except TypeError:  # a timestamp that is not a number: the snapshot wins
            return False
