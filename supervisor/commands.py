"""The control commands, one class each; the docstring's first line is the help text.

A command runs in its own task; commands on one instance take that instance's lock,
so a slow stop of one instance never blocks a start of another.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar

from edgeos.ipc.broker.writes import WAIT_DEFAULT_S
from edgeos.ipc.files import atomic_write_json
from edgeos.ipc.rpc import BAD_REQUEST, NOT_FOUND, REFUSED, UNAVAILABLE, RpcError
from edgeos.supervisor import config as cfgmod
from edgeos.supervisor.config import ConfigError
from edgeos.supervisor.process import ALIVE, Instance, State

if TYPE_CHECKING:
    from edgeos.supervisor.arbiter import Arbiter

COMMANDS: dict[str, type[Command]] = {}
ROUTES_QUICK_S = 2.0  # how long reload's route report waits for the broker


class Command:
    """Base class: subclasses set ``name`` and implement ``execute``."""

    name: ClassVar[str] = ""

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        if cls.name:
            COMMANDS[cls.name] = cls

    def __init__(self, arbiter: Arbiter) -> None:
        self.arbiter = arbiter

    async def execute(self, args: dict[str, Any]) -> Any:
        raise NotImplementedError

    @classmethod
    def help(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0]

    @staticmethod
    def count(args: dict[str, Any], key: str = "n", default: int = 100,
              most: int = 10_000) -> int:
        """A whole-number argument from 0 (all) to ``most`` (a bad one is the caller's)."""
        value = args.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
            raise RpcError(f"{key}: a whole number from 0 to {most}, not {value!r}",
                           BAD_REQUEST)
        return value

    @staticmethod
    def optional_text(args: dict[str, Any], key: str) -> str | None:
        value = args.get(key)
        if value is not None and not isinstance(value, str):
            raise RpcError(f"{key}: a string, not {type(value).__name__}", BAD_REQUEST)
        return value

    def instance(self, args: dict[str, Any]) -> Instance:
        iid = args.get("id")
        if not isinstance(iid, str):
            raise RpcError("an instance id is required", BAD_REQUEST)
        inst = self.arbiter.instances.get(iid)
        if inst is None:
            raise RpcError(f"no instance {iid!r}", NOT_FOUND)
        return inst


class Status(Command):
    """Show the state and live figures of every instance, or of one."""

    name = "status"

    async def execute(self, args: dict[str, Any]) -> Any:
        iid = args.get("id")
        if iid is not None:
            self.instance(args)
        return {"mode": self.arbiter.mode, "performance": self.arbiter.performance,
                "panic": self.arbiter.panic_record(),
                "instances": self.arbiter.status(iid)}


class List(Command):
    """List the instances with their type and state."""

    name = "list"

    async def execute(self, args: dict[str, Any]) -> Any:
        return [{"id": i.id, "type": i.cfg.type, "role": i.cfg.role, "status": str(i.state),
                 "enabled": i.cfg.enabled, "pid": i.pid}
                for i in self.arbiter.instances.values()]


class Start(Command):
    """Start an instance and wait until it reports ready."""

    name = "start"

    async def execute(self, args: dict[str, Any]) -> Any:
        inst = self.startable(args)
        async with self.arbiter.lock(inst.id):
            if inst.state == State.STOPPING:
                await self.arbiter.wait_for(inst, lambda i: i.state not in ALIVE, 30)
            await self.start_and_wait(inst, "start requested")
        return self.arbiter.status(inst.id)[0]

    def startable(self, args: dict[str, Any]) -> Instance:
        inst = self.instance(args)
        if self.arbiter.mode == "panic" and inst.cfg.role == "worker":
            raise RpcError("the system is in panic mode; recover first", REFUSED)
        why = cfgmod.type_problem(inst.cfg.type, self.arbiter.settings) \
            if inst.cfg.role == "worker" else None
        if why is not None:
            raise RpcError(f"{inst.id}: {why}", REFUSED)
        return inst

    async def start_and_wait(self, inst: Instance, reason: str) -> None:
        inst.start(reason)
        await self.arbiter.wait_for(
            inst, lambda i: i.state not in (State.STARTING, State.STOPPED),
            inst.READY_TIMEOUT_S + 1)


class Stop(Command):
    """Stop an instance gracefully (SIGTERM, SIGKILL after its stop timeout)."""

    name = "stop"

    async def execute(self, args: dict[str, Any]) -> Any:
        inst = self.instance(args)
        async with self.arbiter.lock(inst.id):
            await self.arbiter.stop_instance(inst, "stop requested")
        return self.arbiter.status(inst.id)[0]


class Restart(Start):
    """Stop an instance, then start it again."""

    name = "restart"

    async def execute(self, args: dict[str, Any]) -> Any:
        inst = self.startable(args)
        async with self.arbiter.lock(inst.id):
            await self.arbiter.stop_instance(inst, "restart requested")
            await self.start_and_wait(inst, "restart requested")
        return self.arbiter.status(inst.id)[0]


class Kill(Command):
    """Force-kill an instance: SIGKILL on its whole process tree, no grace; it restarts."""

    name = "kill"

    async def execute(self, args: dict[str, Any]) -> Any:
        inst = self.instance(args)
        if inst.pid is None:
            raise RpcError(f"{inst.id} has no process ({inst.state})", REFUSED)
        old_pid = inst.pid
        inst.kill("kill requested")
        await self.arbiter.wait_for(inst, lambda i: i.pid != old_pid, 5)
        return self.arbiter.status(inst.id)[0]


class Reload(Command):
    """Re-read the config dir and apply only what changed; an invalid file changes nothing."""

    name = "reload"

    async def execute(self, args: dict[str, Any]) -> Any:
        before = await self.routes()
        try:
            report: dict[str, Any] = await self.arbiter.reload()
        except ConfigError as exc:
            raise RpcError("invalid configuration, nothing changed", BAD_REQUEST,
                           exc.errors) from None
        after = await self.routes()
        if before is not None and after is not None:
            old, new = before["routes"], after["routes"]
            report["routes"] = {
                "added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)),
                "changed": sorted(i for i in set(old) & set(new) if old[i] != new[i]),
                "total": len(new), "warnings": after["warnings"]}
        if report.get("rolled_back"):  # supervisor/rollback.py: a failure, never success
            rolled = report["rolled_back"]
            raise RpcError(f"reload rolled back {len(rolled)} instance(s) that failed with "
                           f"the new config; they run their previous config (new ones are "
                           f"dropped)", REFUSED, [f"{i}: {why}" for i, why in rolled.items()])
        return report

    async def routes(self) -> dict[str, Any] | None:
        """The routes in force by id, or None while the broker is down or does not answer
        at once (a hung broker is the reload's own business, not this report's)."""
        try:
            doc = await asyncio.wait_for(self.arbiter.broker_call("routes"), ROUTES_QUICK_S)
        except TimeoutError:
            return None
        except RpcError as exc:
            if exc.code != UNAVAILABLE:
                raise
            return None
        return {"routes": {r["id"]: r for r in doc["routes"]}, "warnings": doc["warnings"]}


class Logs(Command):
    """Show the last lines an instance wrote (stdout, stderr, state events)."""

    name = "logs"

    async def execute(self, args: dict[str, Any]) -> Any:
        iid = self.optional_text(args, "id")
        if iid not in self.arbiter.instances and iid not in self.arbiter.logbook.logs:
            raise RpcError(f"no instance {iid!r}", NOT_FOUND)
        return self.arbiter.logbook.get(iid).tail(self.count(args),
                                                  self.optional_text(args, "level"))


class Errors(Command):
    """List recent uncaught errors with their stack traces."""

    name = "errors"

    async def execute(self, args: dict[str, Any]) -> Any:
        return self.arbiter.errors.recent(self.optional_text(args, "id"), self.count(args))


class BrokerCommand(Command):
    """Base for commands the broker answers; the supervisor passes them on."""

    broker_cmd: ClassVar[str] = ""

    async def execute(self, args: dict[str, Any]) -> Any:
        if "cmd" in args or "timeout" in args:  # broker_call's own parameters
            raise RpcError("bad arguments: 'cmd' and 'timeout' are reserved", BAD_REQUEST)
        return await self.arbiter.broker_call(self.broker_cmd, **args)


class Get(BrokerCommand):
    """Read the last value of a datapoint."""

    name = broker_cmd = "get"


class Set(Command):
    """Write a datapoint and wait for the device: confirmed, refused (why) or timeout."""

    name = "set"

    async def execute(self, args: dict[str, Any]) -> Any:
        wait_s = float(args.get("wait_s", WAIT_DEFAULT_S))
        # ``timeout`` is this call's own deadline, a little longer than the broker waits
        return await self.arbiter.broker_call(
            "set", address=args["address"], value=args.get("value"),
            wait=bool(args.get("wait", True)), wait_s=wait_s, timeout=wait_s + 5.0)


class RouteTest(BrokerCommand):
    """Dry-run a value through the routes: which fire, and what each target would get."""

    name = broker_cmd = "route_test"


class Datapoints(BrokerCommand):
    """List datapoints under a prefix, or matching a search."""

    name = broker_cmd = "datapoints"


class Routes(BrokerCommand):
    """Show the routes in force with their counters."""

    name = broker_cmd = "routes"


class Cut(Command):
    """Base of disconnect/reconnect: cut an instance from the router or put it back."""

    cut: ClassVar[bool] = True

    async def execute(self, args: dict[str, Any]) -> Any:
        inst = self.instance(args)
        if inst.cfg.role != "worker":
            raise RpcError(f"{inst.id} is a system process", REFUSED)
        await self.arbiter.broker_call("cut", id=inst.id, cut=self.cut)
        inst.set_cut(self.cut)
        return self.arbiter.status(inst.id)[0]


class Disconnect(Cut):
    """Cut an instance from the router without stopping it."""

    name = "disconnect"
    cut = True


class Reconnect(Cut):
    """Put a disconnected instance back on the router."""

    name = "reconnect"
    cut = False


class Reactivate(Command):
    """Start an instance again after the spam guard suspended it."""

    name = "reactivate"

    async def execute(self, args: dict[str, Any]) -> Any:
        inst = self.instance(args)
        if inst.state != State.SUSPENDED_BY_SPAM:
            raise RpcError(f"{inst.id} is not suspended (it is {inst.state})", REFUSED)
        await self.arbiter.broker_call("reactivate", id=inst.id)
        return await Start(self.arbiter).execute(args)


class Help(Command):
    """List the commands the daemon understands."""

    name = "help"

    async def execute(self, args: dict[str, Any]) -> Any:
        return {name: cls.help() for name, cls in sorted(COMMANDS.items())}


class Panic(Command):
    """Panic: write fail-safe values, stop every device worker and routing; persists."""

    name = "panic"

    async def execute(self, args: dict[str, Any]) -> Any:
        return await self.arbiter.panic(str(args.get("who") or "edgectl"),
                                        str(args.get("why") or "panic requested"))


class Recover(Command):
    """Leave panic mode and start the enabled workers again."""

    name = "recover"

    async def execute(self, args: dict[str, Any]) -> Any:
        return await self.arbiter.recover(str(args.get("who") or "edgectl"))


class System(Command):
    """Host CPU, RAM and disk, the performance profile and the mode."""

    name = "system"

    async def execute(self, args: dict[str, Any]) -> Any:
        from edgeos.supervisor.stats import host

        return {**host(), "performance": self.arbiter.performance, "mode": self.arbiter.mode,
                "headless": self.arbiter.headless,
                "config_dir": str(self.arbiter.paths.config)}


class RoutesCommand(Command):
    """Base: check a routing document with the broker's own loader."""

    def check(self, doc: Any, ids: list[str] | None = None) -> Any:
        from edgeos.ipc.routing import RoutingError, load_routing

        ids = [i.id for i in self.arbiter.workers()] if ids is None else ids
        ids = [*ids, *self.arbiter.satellite_ids()]
        try:
            return load_routing(doc, source=cfgmod.ROUTING, instance_ids=[*ids, "log"])
        except RoutingError as exc:
            raise RpcError("invalid routing.json, routes unchanged", BAD_REQUEST,
                           exc.errors) from None


class ValidateRoutes(RoutesCommand):
    """Check a routing document against the running instances without applying it."""

    name = "validate_routes"

    async def execute(self, args: dict[str, Any]) -> Any:
        return {"warnings": self.check(args.get("doc")).warnings}


class SaveRoutes(RoutesCommand):
    """Replace routing.json (checked, atomic, backed up) and put it in force."""

    name = "save_routes"

    async def execute(self, args: dict[str, Any]) -> Any:
        doc = args.get("doc")
        self.check(doc)
        atomic_write_json(self.arbiter.paths.config / cfgmod.ROUTING, doc,
                          backup_dir=self.arbiter.paths.backups)
        return await self.arbiter.broker_call("reload", instances=self.arbiter.instance_table())


class Connections(RoutesCommand):
    """Show connections.json, or replace it with ``doc`` (checked, atomic, backed up)
    and apply it like ``reload``."""

    name = "connections"

    async def execute(self, args: dict[str, Any]) -> Any:
        path = self.arbiter.paths.config / cfgmod.CONNECTIONS
        doc = args.get("doc")
        if doc is None:
            return cfgmod.read_json(path) if path.exists() else {"version": "1.0",
                                                                 "connections": []}
        try:
            configs = cfgmod.validate_connections(
                doc, cfgmod.load_settings(self.arbiter.paths.config))
        except ConfigError as exc:
            raise RpcError("invalid connections.json, nothing changed", BAD_REQUEST,
                           exc.errors) from None
        routes = self.arbiter.paths.config / cfgmod.ROUTING
        if routes.exists():  # the routes in force must still resolve: refuse before writing
            self.check(cfgmod.read_json(routes), [c.id for c in configs])
        atomic_write_json(path, doc, backup_dir=self.arbiter.paths.backups)
        return await Reload(self.arbiter).execute({})


class ReloadCancel(Command):
    """Stop a running reload before its next batch of instances starts; those not
    started yet stay configured and stopped."""

    name = "reload_cancel"

    async def execute(self, args: dict[str, Any]) -> Any:
        return {"cancelled": self.arbiter.spawner.cancel()}


class Blob(BrokerCommand):
    """The bytes of a blob datapoint (an image, a file), with its value entry."""

    name = broker_cmd = "blob"
