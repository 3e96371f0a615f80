"""The control commands, one class each: the docstring's first line is the help text,
``args`` declares the arguments (:mod:`edgeos.ipc.commands`: checked before the command
runs, and the source of ``edgectl``'s parsers and help). ``edgectl`` imports this module
for the declarations, so the config loader and the routing engine (jsonschema) are
imported where a command uses them.

A command runs in its own task; commands on one instance take that instance's lock,
so a slow stop of one instance never blocks a start of another.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar

from edgeos.common.files import atomic_write_json
from edgeos.ipc import commands as base
from edgeos.ipc import low_power
from edgeos.ipc.broker import commands as on_broker
from edgeos.ipc.commands import Arg
from edgeos.ipc.rpc import BAD_REQUEST, NOT_FOUND, REFUSED, UNAVAILABLE, RpcError
from edgeos.supervisor.process import ALIVE, Instance, State

if TYPE_CHECKING:
    from edgeos.supervisor.arbiter import Arbiter

COMMANDS: dict[str, type[base.Command]] = {}
ROUTES_QUICK_S = 2.0  # how long reload's route report waits for the broker

ID = Arg("id", required=True, help="the instance id", least=1, most=200)
WHO = Arg("who", default="edgectl", help="who asks (for the audit log)", most=200)
COUNT = Arg("n", "int", default=100, least=0, most=10_000, help="how many, newest last "
                                                                "(0: all kept)")


class Command(base.Command):
    """Base of the supervisor's commands: ``self.arbiter`` is the running daemon."""

    registry = COMMANDS

    def __init__(self, arbiter: Arbiter) -> None:
        self.arbiter = arbiter

    def refuse_on_standby(self, what: str) -> None:
        """Refuse an edit of a mirrored file (``what``) on a standby core, before anything
        is written: the active core's next mirrored version would overwrite it."""
        why = self.arbiter.ha.edit_refusal(what) if self.arbiter.ha else None
        if why:
            raise RpcError(why, REFUSED)

    def instance(self, args: dict[str, Any]) -> Instance:
        iid = args["id"]
        inst = self.arbiter.instances.get(iid)
        if inst is None:
            raise RpcError(f"no instance {iid!r}", NOT_FOUND)
        return inst


class Status(Command):
    """Show the state and live figures of every instance, or of one."""

    name = "status"
    args = (Arg("id", help="only this instance", most=200),)

    async def execute(self, args: dict[str, Any]) -> Any:
        iid = args.get("id")
        if iid is not None:
            self.instance(args)
        return {**self.summary(), "instances": self.arbiter.status(iid)}

    def summary(self) -> dict[str, Any]:
        """The daemon's part of the answer: mode, performance, profile, panic."""
        return {"mode": self.arbiter.mode, "performance": self.arbiter.performance,
                "profile_effects": low_power.effects(),
                "panic": self.arbiter.panic_record()}


class List(Command):
    """List the instances with their type and state."""

    name = "list"
    args = ()

    async def execute(self, args: dict[str, Any]) -> Any:
        return [{"id": i.id, "type": i.cfg.type, "role": i.cfg.role, "status": str(i.state),
                 "enabled": i.cfg.enabled, "pid": i.pid}
                for i in self.arbiter.instances.values()]


class InstanceCommand(Command):
    """Base of the commands that act on one instance and answer with its status row:
    ``target`` looks it up and refuses what cannot be done, ``act`` does it, under the
    instance's lock unless ``locked`` is off (a kill must not wait for a slow stop)."""

    args = (ID,)
    locked: ClassVar[bool] = True

    def target(self, args: dict[str, Any]) -> Instance:
        return self.instance(args)

    async def act(self, inst: Instance) -> None:
        raise NotImplementedError

    async def execute(self, args: dict[str, Any]) -> Any:
        inst = self.target(args)
        if self.locked:
            async with self.arbiter.lock(inst.id):
                await self.act(inst)
        else:
            await self.act(inst)
        return self.arbiter.status(inst.id)[0]


class Start(InstanceCommand):
    """Start an instance and wait until it reports ready."""

    name = "start"

    async def act(self, inst: Instance) -> None:
        if inst.state == State.STOPPING:
            await self.arbiter.wait_for(inst, lambda i: i.state not in ALIVE, 30)
        await self.start_and_wait(inst, "start requested")

    def target(self, args: dict[str, Any]) -> Instance:
        from edgeos.supervisor import config as cfgmod

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


class Stop(InstanceCommand):
    """Stop an instance gracefully (SIGTERM, SIGKILL after its stop timeout)."""

    name = "stop"

    async def act(self, inst: Instance) -> None:
        await self.arbiter.stop_instance(inst, "stop requested")


class Restart(Start):
    """Stop an instance, then start it again."""

    name = "restart"

    async def act(self, inst: Instance) -> None:
        await self.arbiter.stop_instance(inst, "restart requested")
        await self.start_and_wait(inst, "restart requested")


class Kill(InstanceCommand):
    """Force-kill an instance: SIGKILL on its whole process tree, no grace; it restarts."""

    name = "kill"
    locked = False

    def target(self, args: dict[str, Any]) -> Instance:
        inst = self.instance(args)
        if inst.pid is None:
            raise RpcError(f"{inst.id} has no process ({inst.state})", REFUSED)
        return inst

    async def act(self, inst: Instance) -> None:
        old_pid = inst.pid
        inst.kill("kill requested")
        await self.arbiter.wait_for(inst, lambda i: i.pid != old_pid, 5)


class Reload(Command):
    """Re-read the config dir and apply only what changed; an invalid file changes nothing."""

    name = "reload"
    args = ()

    async def execute(self, args: dict[str, Any]) -> Any:
        from edgeos.supervisor.config import ConfigError

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
    args = (ID, COUNT, Arg("level", help="only lines of this level", most=20))

    async def execute(self, args: dict[str, Any]) -> Any:
        iid = args["id"]
        if iid not in self.arbiter.instances and iid not in self.arbiter.logbook.logs:
            raise RpcError(f"no instance {iid!r}", NOT_FOUND)
        return self.arbiter.logbook.get(iid).tail(args["n"], args["level"])


class Errors(Command):
    """List recent uncaught errors with their stack traces."""

    name = "errors"
    args = (Arg("id", help="only this instance's", most=200), COUNT)

    async def execute(self, args: dict[str, Any]) -> Any:
        return self.arbiter.errors.recent(args["id"], args["n"])


class BrokerCommand(Command):
    """Base for commands the broker answers: the supervisor passes them on, declared as
    the broker declares them (``__init_subclass__`` copies ``args`` and the help)."""

    forwards: ClassVar[type[base.Command]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        cls.name, cls.args = cls.forwards.name, cls.forwards.args
        cls.__doc__ = cls.forwards.__doc__
        super().__init_subclass__(**kwargs)

    async def execute(self, args: dict[str, Any]) -> Any:
        return await self.arbiter.broker_call(self.name, **args)


class Set(BrokerCommand):
    forwards = on_broker.Set

    async def execute(self, args: dict[str, Any]) -> Any:
        # ``timeout`` is this call's own deadline, a little longer than the broker waits
        return await self.arbiter.broker_call("set", timeout=args["wait_s"] + 5.0, **args)


def forwarded(command: type[base.Command]) -> type[BrokerCommand]:
    """The supervisor's side of a broker command that adds nothing to it."""
    return type(command.__name__, (BrokerCommand,), {"forwards": command,
                                                     "__module__": __name__})


#: the broker's commands the supervisor passes on as they are
Get, RouteTest, Datapoints, Routes, Blob = (forwarded(c) for c in (
    on_broker.Get, on_broker.RouteTest, on_broker.Datapoints, on_broker.Routes,
    on_broker.Blob))


class Cut(InstanceCommand):
    """Base of disconnect/reconnect: cut an instance from the router or put it back."""

    cut: ClassVar[bool] = True
    locked = False

    def target(self, args: dict[str, Any]) -> Instance:
        inst = self.instance(args)
        if inst.cfg.role != "worker":
            raise RpcError(f"{inst.id} is a system process", REFUSED)
        return inst

    async def act(self, inst: Instance) -> None:
        await self.arbiter.broker_call("cut", id=inst.id, cut=self.cut)
        inst.set_cut(self.cut)


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
    args = (ID,)

    async def execute(self, args: dict[str, Any]) -> Any:
        inst = self.instance(args)
        if inst.state != State.SUSPENDED_BY_SPAM:
            raise RpcError(f"{inst.id} is not suspended (it is {inst.state})", REFUSED)
        await self.arbiter.broker_call("reactivate", id=inst.id)
        return await Start(self.arbiter).execute(args)


class Help(Command):
    """List the commands the daemon understands, with their arguments."""

    name = "help"
    args = ()

    async def execute(self, args: dict[str, Any]) -> Any:
        from edgeos.supervisor import command_modules  # the commands not imported yet too

        return base.listing(command_modules.load_all())


class Panic(Command):
    """Panic: write fail-safe values, stop every device worker and routing; persists."""

    name = "panic"
    args = (WHO, Arg("why", default="panic requested", help="the reason, for the record",
                     most=1000))

    async def execute(self, args: dict[str, Any]) -> Any:
        return await self.arbiter.panic(args["who"], args["why"])


class Recover(Command):
    """Leave panic mode and start the enabled workers again."""

    name = "recover"
    args = (WHO,)

    async def execute(self, args: dict[str, Any]) -> Any:
        return await self.arbiter.recover(args["who"])


class System(Command):
    """Host CPU, RAM and disk, the performance profile and the mode."""

    name = "system"
    args = ()

    async def execute(self, args: dict[str, Any]) -> Any:
        from edgeos.supervisor.stats import host

        ha = self.arbiter.ha
        return {**host(), "performance": self.arbiter.performance, "mode": self.arbiter.mode,
                "headless": self.arbiter.headless,
                "config_dir": str(self.arbiter.paths.config),
                "config_read_only": ha.edit_refusal("the configuration") if ha else None}


ROUTES_DOC = Arg("doc", "any", required=True, help="a routing.json document")


class RoutesCommand(Command):
    """Base: check a routing document as the broker does (:func:`check_routes`)."""

    async def check(self, doc: Any, ids: list[str] | None = None) -> list[str]:
        """The document's warnings; a refused one raises ``bad_request``. Checked in
        the validation helper (supervisor/route_check.py: no jsonschema here), from a
        thread: the loop does not wait for the helper."""
        from edgeos.supervisor import route_check

        ids = [i.id for i in self.arbiter.workers()] if ids is None else ids
        return await asyncio.to_thread(route_check.warnings, doc,
                                       [*ids, *self.arbiter.satellite_ids()])


class ValidateRoutes(RoutesCommand):
    """Check a routing document against the running instances without applying it."""

    name = "validate_routes"
    args = (ROUTES_DOC,)

    async def execute(self, args: dict[str, Any]) -> Any:
        return {"warnings": await self.check(args["doc"])}


class SaveRoutes(RoutesCommand):
    """Replace routing.json (checked, atomic, backed up) and put it in force."""

    name = "save_routes"
    args = (ROUTES_DOC,)

    async def execute(self, args: dict[str, Any]) -> Any:
        from edgeos.supervisor import config as cfgmod

        doc = args["doc"]
        self.refuse_on_standby(cfgmod.ROUTING)
        await self.check(doc)
        atomic_write_json(self.arbiter.paths.config / cfgmod.ROUTING, doc,
                          backup_dir=self.arbiter.paths.backups)
        return await self.arbiter.broker_call("reload", instances=self.arbiter.instance_table())


class Connections(RoutesCommand):
    """Show connections.json, or replace it with ``doc`` (checked, atomic, backed up)
    and apply it like ``reload``."""

    name = "connections"
    args = (Arg("doc", "any", help="a connections.json document (none: show the file)"),)

    async def execute(self, args: dict[str, Any]) -> Any:
        from edgeos.supervisor import config as cfgmod

        path = self.arbiter.paths.config / cfgmod.CONNECTIONS
        doc = args["doc"]
        if doc is None:
            return cfgmod.read_json(path) if path.exists() else {"version": "1.0",
                                                                 "connections": []}
        self.refuse_on_standby(cfgmod.CONNECTIONS)
        try:
            configs = await asyncio.to_thread(lambda: cfgmod.validate_connections(
                doc, cfgmod.load_settings(self.arbiter.paths.config)))
        except cfgmod.ConfigError as exc:
            raise RpcError("invalid connections.json, nothing changed", BAD_REQUEST,
                           exc.errors) from None
        routes = self.arbiter.paths.config / cfgmod.ROUTING
        if routes.exists():  # the routes in force must still resolve: refuse before writing
            await self.check(cfgmod.read_json(routes), [c.id for c in configs])
        atomic_write_json(path, doc, backup_dir=self.arbiter.paths.backups)
        return await Reload(self.arbiter).execute({})


class ReloadCancel(Command):
    """Stop a running reload before its next batch of instances starts; those not
    started yet stay configured and stopped."""

    name = "reload_cancel"
    args = ()

    async def execute(self, args: dict[str, Any]) -> Any:
        return {"cancelled": self.arbiter.spawner.cancel()}
