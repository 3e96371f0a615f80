"""The satellite gateway's control commands (its ``CTL_SOCK``, which only the supervisor
and, on a standby core, the HA mirror call), declared like the supervisor's and the
broker's (:mod:`edgeos.ipc.commands`): a class each, its docstring the help, its
arguments checked before it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from edgeos.ipc.commands import Arg, Command
from edgeos.ipc.rpc import BAD_REQUEST, UNAVAILABLE, RpcError
from edgeos.ipc.satellite.trust import TrustError

if TYPE_CHECKING:
    from edgeos.ipc.satellite.gateway import Gateway

MAX_SATELLITES = 100_000  # entries of a mirrored high-water table


class GatewayCommand(Command):
    """Base of the gateway's commands: ``self.gateway`` is the running gateway. Most take
    no argument: one that takes some declares them (``args``), the others refuse any."""

    registry: ClassVar[dict[str, type[Command]]] = {}
    args: ClassVar[tuple[Arg, ...] | None] = ()

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway


class List(GatewayCommand):
    """List satellites: trusted (with their link's figures), pending and revoked."""

    name = "list"

    async def execute(self, args: dict[str, Any]) -> Any:
        return self.gateway.listing()


class Reload(GatewayCommand):
    """Re-read the trust stores: a revoked satellite's link is cut at once."""

    name = "reload"

    async def execute(self, args: dict[str, Any]) -> Any:
        try:
            await self.gateway.sync_trust()
        except TrustError as exc:
            raise RpcError(str(exc), BAD_REQUEST) from None
        return self.gateway.listing()


class Stats(GatewayCommand):
    """Per satellite its state and, while connected, the figures of its instances."""

    name = "stats"

    async def execute(self, args: dict[str, Any]) -> Any:
        return {i: {"state": s.state, "instances": s.stats if s.state == "connected" else []}
                for i, s in self.gateway.sats.items()}


class Instance(GatewayCommand):
    """Run an instance verb (start, stop, ...) on a satellite and wait for its answer."""

    name = "instance"
    args = (Arg("satellite", required=True, help="the satellite id", least=1, most=200),
            Arg("verb", required=True, help="the satellite's control command",
                least=1, most=100),
            Arg("args", "dict", help="the verb's arguments", most=100))

    async def execute(self, args: dict[str, Any]) -> Any:
        return await self.gateway.instance_command(args["satellite"], args["verb"],
                                                   args["args"] or {})


class HaFollowers(GatewayCommand):
    """List the standby cores that mirror this one, with their lag."""

    name = "ha_followers"

    async def execute(self, args: dict[str, Any]) -> Any:
        return self.gateway.mirror.listing()


class HaRole(GatewayCommand):
    """Re-read ha.json: a standby sends its connected satellites away (to the active)."""

    name = "ha_role"
    quiesce: ClassVar[bool] = False

    async def execute(self, args: dict[str, Any]) -> Any:
        self.gateway.mirror.end_start_hold()  # the supervisor's word is the role's
        self.gateway.mirror.quiesced = self.quiesce
        return self.gateway.enforce_role()


class HaQuiesce(HaRole):
    """Planned hand-over: connected satellites are sent away to wait for the standby."""

    name = "ha_quiesce"
    quiesce = True


class HaHwm(GatewayCommand):
    """A standby: take the primary gateway's high-water marks, mirrored."""

    name = "ha_hwm"
    args = (Arg("hwm", "dict", required=True, most=MAX_SATELLITES,
                help="satellite id -> [epoch, last sequence taken]"),)

    async def execute(self, args: dict[str, Any]) -> Any:
        if not self.gateway.mirror.state.active:
            for sat_id, (epoch, seq) in args["hwm"].items():
                sat = self.gateway.sats.get(sat_id)
                if sat is not None and (epoch != sat.epoch or seq > sat.hwm):
                    sat.epoch, sat.hwm = str(epoch), int(seq)
                    self.gateway.hwm.put(sat.id, sat.epoch, sat.hwm)
        return {}


class HaVotes(GatewayCommand):
    """Satellites whose visit here is a vote for a failover now (:mod:`edgeos.ipc.ha.vote`):
    id -> seconds it had lost the active core."""

    name = "ha_votes"
    args = (Arg("silent_s", "float", required=True, least=0, most=86_400,
                help="seconds this standby has heard nothing from the primary"),
            Arg("failover_s", "float", required=True, least=0, most=86_400,
                help="how long a satellite must have lost the active core to vote"))

    async def execute(self, args: dict[str, Any]) -> Any:
        return self.gateway.mirror.recent_votes(args["silent_s"], args["failover_s"])


class HaHandover(GatewayCommand):
    """Planned switch-over: ask the connected standby with this key to take over."""

    name = "ha_handover"
    args = (Arg("key", required=True, help="the standby's public key (Z85)", least=1,
                most=200),
            Arg("reason", default="", help="why, for the standby's log", most=1000))

    async def execute(self, args: dict[str, Any]) -> Any:
        try:
            self.gateway.mirror.handover(args["key"], args["reason"])
        except ValueError as exc:
            raise RpcError(str(exc), UNAVAILABLE) from None
        return {"asked": True}


class HaHeld(GatewayCommand):
    """What this core holds of each satellite (id -> [epoch, last sequence]): what it
    took itself while active, or mirrored. A re-joining standby's HELLO says it, so the
    active core mirrors it only what follows (a core that handed over gets nothing it
    published itself again)."""

    name = "ha_held"

    async def execute(self, args: dict[str, Any]) -> Any:
        return {i: [s.epoch, s.hwm] for i, s in self.gateway.sats.items() if s.epoch}
