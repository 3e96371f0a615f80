"""Control commands for satellites: ``node-key``, ``satellites [trust|revoke]`` and the
instance verbs acting on ``<satellite-id>.<instance-id>`` (CONTRACT section 8).

The trust store is written here only (atomic, with a backup); the gateway process is
then told to re-read it (it cuts a revoked satellite's link at once) and the broker
gets the new instance table, so ``<sat>.*`` addresses resolve from that moment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from edgeos.ipc import addresses
from edgeos.ipc.commands import Arg
from edgeos.ipc.rpc import BAD_REQUEST, NOT_FOUND, UNAVAILABLE, AsyncRpcClient, RpcError
from edgeos.ipc.satellite.wire import CTL_SOCK
from edgeos.supervisor.commands import Command, Kill, Restart, Start, Status, Stop

if TYPE_CHECKING:
    from edgeos.ipc.satellite.trust import RemoteClients, TrustStore

# edgectl reads these declarations at every start: the trust stores and satellite_setup
# (which load the config schemas, jsonschema: a second of a Pi's time) are imported
# where a command uses them; so is the key module (zmq.auth), which an idle supervisor
# without satellite links never needs (issue 16).
CLIENT_ROLES = ("admin", "viewer")  # = ipc.satellite.trust.ROLES (a unit test says so)


class SatelliteCommand(Command):
    """Base: the trust store and the gateway's control socket."""

    @staticmethod
    @contextlib.contextmanager
    def refused(code: str = BAD_REQUEST, *also: type[Exception]) -> Iterator[None]:
        """A store's refusal (TrustError, and ``also``) as ``code``."""
        from edgeos.ipc.satellite.trust import TrustError

        try:
            yield
        except (TrustError, *also) as exc:
            raise RpcError(str(exc), code) from None

    def store(self) -> TrustStore:
        from edgeos.ipc.satellite.trust import TrustStore

        with self.refused():
            return TrustStore.load(self.arbiter.paths.data)

    def link(self, which: str) -> dict[str, Any] | None:
        """This daemon's satellite link process (``gateway`` on a core, ``uplink`` on a
        satellite) as the arbiter runs it, or None."""
        from edgeos.supervisor.satellite_setup import GATEWAY, UPLINK

        return self.arbiter.links.get({"gateway": GATEWAY, "uplink": UPLINK}[which])

    async def gateway(self, cmd: str, **args: Any) -> Any:
        if self.link("gateway") is None:
            raise RpcError("this daemon takes no satellites (--satellite-listen off, or "
                           "it is a satellite)", UNAVAILABLE)
        client = AsyncRpcClient(self.arbiter.ctx,
                                addresses.endpoint(self.arbiter.paths.run, CTL_SOCK), 35)
        try:
            return await client.call(cmd, **args)
        finally:
            client.close()

    async def commit(self, store: TrustStore | RemoteClients, entry: dict[str, Any],
                     action: str, detail: str, **audit: Any) -> dict[str, Any]:
        """After a change to ``store``: save it, audit ``action``, put it in force (not
        on a standby: the store is mirrored to it, and nothing is saved)."""
        self.refuse_on_standby(store.path.name)
        store.save()
        self.arbiter.audit(action, "edgectl", detail, **audit)
        await self.apply()
        return entry

    async def apply(self) -> None:
        """Put a changed trust store in force: gateway first, then the broker's table."""
        try:
            await self.gateway("reload")
        except RpcError as exc:
            if exc.code != UNAVAILABLE:
                raise
        try:
            await self.arbiter.broker_call("instances", instances=self.arbiter.instance_table())
        except RpcError as exc:
            if exc.code != UNAVAILABLE:
                raise


class NodeKey(SatelliteCommand):
    """Print this node's public key (Z85, 40 characters) and its fingerprint."""

    name = "node_key"
    args = ()

    async def execute(self, args: dict[str, Any]) -> Any:
        from edgeos.ipc.satellite import keys  # with zmq.auth: only here (issue 16)

        try:
            public, _ = keys.load_node_keys(self.arbiter.paths.data)
        except keys.KeyFileError as exc:
            raise RpcError(str(exc), UNAVAILABLE) from None
        return {"key": public.decode("ascii"), "fingerprint": keys.fingerprint(public)}


class Satellites(SatelliteCommand):
    """List satellites: id, key, state, address, last_seen, backlog, rtt_ms, delivered."""

    name = "satellites"
    args = ()

    async def execute(self, args: dict[str, Any]) -> Any:
        from edgeos.supervisor.satellite_setup import UPLINK

        uplink = self.link("uplink")
        if uplink is not None:
            inst = self.arbiter.instances.get(UPLINK)
            bus = (inst.counters.get("bus") or {}) if inst is not None else {}
            return [{"id": uplink["link"]["satellite_id"],
                     "role": "satellite", "state": bus.get("state", "starting"),
                     "core": bus.get("core"), "backlog": bus.get("backlog"),
                     "rtt_ms": bus.get("rtt_ms"), "reason": bus.get("reason"),
                     "last_seq": bus.get("last_seq"), "acked": bus.get("acked"),
                     "overflow": bus.get("overflow")}]
        try:
            return await self.gateway("list")
        except RpcError as exc:
            if exc.code != UNAVAILABLE:
                raise
        store = self.store()
        return ([{"id": i, "key": e["key"], "state": "offline"} for i, e in
                 store.trusted.items()]
                + [{"id": i, "key": e["key"], "state": "revoked"} for i, e in
                   store.revoked.items()])


class SatellitesTrust(SatelliteCommand):
    """Trust a satellite key (``key`` and ``id``, or ``pending``: the id a pending key
    claimed); an id already bound to another key is refused."""

    name = "satellites_trust"
    args = (Arg("key", help="the satellite's public key (Z85)", most=200),
            Arg("id", help="the satellite id to bind the key to", most=200),
            Arg("pending", help="trust the pending key that claims this id", most=200))

    async def execute(self, args: dict[str, Any]) -> Any:
        key, sat_id = args["key"], args["id"]
        if args["pending"]:
            sat_id = args["pending"]
            rows = [r for r in await self.gateway("list")
                    if r.get("state") == "pending" and r.get("id") == sat_id]
            if not rows:
                raise RpcError(f"no pending satellite claims the id {sat_id!r}", NOT_FOUND)
            if len(rows) > 1:
                raise RpcError(f"{len(rows)} pending keys claim the id {sat_id!r}: trust "
                               "one by its KEY", BAD_REQUEST)
            key = rows[0]["key"]
        if not key:
            raise RpcError("a KEY or --pending ID is required", BAD_REQUEST)
        if not sat_id:
            raise RpcError("--id ID is required with a KEY", BAD_REQUEST)
        store = self.store()
        local = {i for i in self.arbiter.instances}
        with self.refused(BAD_REQUEST, ValueError):  # ValueError: a malformed key
            entry = store.trust(key, sat_id, local)
        return await self.commit(store, entry, "satellite_trust", f"satellite {sat_id}",
                                 key=entry["key"])


class RevokeCommand(SatelliteCommand):
    """Base of the revoke verbs: the entry of ``keys()`` named by the command's one
    argument is dropped, the store saved, the change audited as ``audit_as`` and put in
    force (the gateway cuts a revoked satellite or client at once)."""

    audit_as: ClassVar[str] = ""
    noun: ClassVar[str] = ""  # what the audit line calls the entry

    def keys(self) -> TrustStore | RemoteClients:
        raise NotImplementedError

    async def execute(self, args: dict[str, Any]) -> Any:
        (arg,) = self.args or ()
        store = self.keys()
        with self.refused(NOT_FOUND):
            entry = store.revoke(args[arg.name])
        return await self.commit(store, entry, self.audit_as, f"{self.noun} {args[arg.name]}")


class SatellitesRevoke(RevokeCommand):
    """Revoke a satellite: its link is closed at once and its key refused from now on."""

    name = "satellites_revoke"
    args = (Arg("id", required=True, help="the satellite id", least=1, most=200),)
    audit_as, noun = "satellite_revoke", "satellite"
    keys = SatelliteCommand.store


class RemoteInstance(SatelliteCommand):
    """Base of the instance verbs: ``<satellite>.<instance>`` acts on the satellite, any
    other id on this node (the local command after this class in the bases)."""

    async def execute(self, args: dict[str, Any]) -> Any:
        result = await self.remote(args)
        return result if result is not None else await super().execute(args)

    async def remote(self, args: dict[str, Any]) -> Any:
        iid = args["id"]
        if iid is None or iid in self.arbiter.instances or "." not in iid \
                or self.link("gateway") is None:
            return None
        sat_id, inst_id = iid.split(".", 1)
        if sat_id not in self.store().trusted:
            return None
        result = await self.gateway("instance", satellite=sat_id, verb=self.name,
                                    args={"id": inst_id})
        if isinstance(result, dict) and "id" in result:
            result = {**result, "id": f"{sat_id}.{result['id']}", "host": sat_id}
        return result


class RemoteStart(RemoteInstance, Start):
    """Start an instance and wait until it reports ready (``<sat>.<id>``: on the satellite)."""

    name = "start"


class RemoteStop(RemoteInstance, Stop):
    """Stop an instance gracefully (``<sat>.<id>``: on the satellite)."""

    name = "stop"


class RemoteRestart(RemoteInstance, Restart):
    """Stop an instance, then start it again (``<sat>.<id>``: on the satellite)."""

    name = "restart"


class RemoteKill(RemoteInstance, Kill):
    """Force-kill an instance's process tree; it restarts (``<sat>.<id>``: remotely)."""

    name = "kill"


class RemoteStatus(SatelliteCommand, Status):
    """Show the state and live figures of every instance, or of one; a core adds its
    satellites' instances as ``<sat>.<id>`` with ``host`` set to the satellite."""

    name = "status"

    async def execute(self, args: dict[str, Any]) -> Any:
        iid = args["id"]
        if self.link("gateway") is None or iid in self.arbiter.instances:
            return await Status.execute(self, args)  # (an unknown id: not found)
        result = await Status.execute(self, args) if iid is None else \
            {**self.summary(), "instances": []}
        try:
            remote = await self.gateway("stats")
        except RpcError:
            remote = {}
        rows = [{**row, "id": f"{sat_id}.{row['id']}", "host": sat_id}
                for sat_id, sat in remote.items() for row in sat["instances"]
                if row.get("role") == "worker"]
        if iid is not None:
            rows = [r for r in rows if r["id"] == iid]
            if not rows:
                raise RpcError(f"no instance {iid!r}", NOT_FOUND)
        result["instances"] = [*result["instances"], *rows]
        return result


class RemoteCommand(SatelliteCommand):
    """Base: the client keys admitted to ``edgectl --endpoint``."""

    def clients(self) -> RemoteClients:
        from edgeos.ipc.satellite.trust import RemoteClients

        with self.refused():
            return RemoteClients.load(self.arbiter.paths.data)


class RemoteList(RemoteCommand):
    """List the client keys admitted to edgectl --endpoint: name, role, key."""

    name = "remote_list"
    args = ()

    async def execute(self, args: dict[str, Any]) -> Any:
        return [{"name": n, "role": e["role"], "key": e["key"], "since": e["since"]}
                for n, e in self.clients().clients.items()]


class RemoteTrust(RemoteCommand):
    """Admit a user's client key (``edgectl client-key``) as ``name`` with a role
    (admin or viewer) to edgectl --endpoint."""

    name = "remote_trust"
    args = (Arg("key", required=True, help="the client key (edgectl client-key)", most=200),
            Arg("name", required=True, help="a name for the key's holder", least=1, most=200),
            Arg("role", required=True, choices=CLIENT_ROLES,
                help="what the key may do"))

    async def execute(self, args: dict[str, Any]) -> Any:
        store = self.clients()
        with self.refused(BAD_REQUEST, ValueError):
            entry = store.trust(args["key"], args["name"], args["role"])
        return await self.commit(store, entry, "remote_trust",
                                 f"client {entry['name']} ({entry['role']})", key=entry["key"])


class RemoteRevoke(RemoteCommand, RevokeCommand):
    """Revoke a client key by name: its next request is refused."""

    name = "remote_revoke"
    args = (Arg("name", required=True, help="the key holder's name", least=1, most=200),)
    audit_as, noun = "remote_revoke", "client"
    keys = RemoteCommand.clients
