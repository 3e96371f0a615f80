"""Control commands for high availability (docs/high-availability.md): ``ha`` (status),
``ha_trust``, ``ha_promote``, ``ha_demote``, and the ones the link processes call:
``ha_apply`` (mirrored files), ``ha_seen`` (a higher epoch), ``ha_fenced`` (a peer
took over), ``ha_failover`` (the primary is unreachable: vote, then promote).

Every role change goes through :func:`switch`: the epoch is persisted first, the event
is published and audited with its reason, then the gateway, the instances and the
mirror link follow the new role.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from edgeos.common.files import atomic_write_json
from edgeos.ipc.commands import Arg
from edgeos.ipc.ha import wire
from edgeos.ipc.ha.mirror import load_pinned_primary, pin_primary
from edgeos.ipc.ha.state import HaState
from edgeos.ipc.rpc import BAD_REQUEST, REFUSED, UNAVAILABLE, RpcError
from edgeos.ipc.satellite import keys
from edgeos.ipc.satellite import wire as satwire
from edgeos.ipc.satellite.trust import TrustError
from edgeos.supervisor import ha_setup
from edgeos.supervisor.commands import WHO
from edgeos.supervisor.config import ConfigError
from edgeos.supervisor.satellite_commands import SatelliteCommand
from edgeos.supervisor.satellite_setup import GATEWAY

log = logging.getLogger("edgeos")

WITNESS_TIMEOUT_S = 1.0
# A planned switch-over's waits, inside edgectl's 40 s. The primary stays quiesced (its
# satellites buffer) until it is fenced or FENCED_WAIT_S ran out, and the standby
# promotes on its own only after HANDOVER_WAIT_S: a primary that took satellites again
# while the standby promoted would publish what the new core then takes again.
MIRRORED_WAIT_S = 10  # primary: until the standby holds all it took
STUCK_TICKS = 20  # ... or until that lag has not moved for 2 s
FENCED_WAIT_S = 20  # primary: until the standby's HELLO as active fences it
HANDOVER_WAIT_S = 25  # standby: until the primary hands over
REASON = Arg("reason", default="planned switch-over", help="why (for the event and the audit "
             "log)", most=500)
EPOCH = Arg("epoch", "int", required=True, least=0, help="the epoch seen")


class HaCommand(SatelliteCommand):
    """Base: this core's HA state (a satellite has none)."""

    @property
    def ha(self) -> HaState:
        if self.arbiter.ha is None:
            raise RpcError("this daemon is a satellite: high availability is for cores",
                           UNAVAILABLE)
        return self.arbiter.ha

    def listen(self) -> str:
        link = self.arbiter.links.get(GATEWAY)
        return link["link"]["listen"] if link else "off"

    async def followers(self) -> list[dict[str, Any]]:
        try:
            return list(await self.gateway("ha_followers"))
        except RpcError as exc:
            if exc.code != UNAVAILABLE:
                raise
            return []

    def mirror_bus(self) -> dict[str, Any]:
        inst = self.arbiter.instances.get(ha_setup.MIRROR)
        return (inst.counters.get("bus") or {}) if inst is not None else {}

    async def switch(self, role: str, reason: str, who: str, *, epoch: int | None = None,
                     peer: str | None = None) -> dict[str, Any]:
        """Change role: persisted (epoch first), published, audited, then applied."""
        ha = self.ha
        event = ha.change(role, reason, epoch=epoch, peer=peer)
        ha.save(self.arbiter.paths.data)
        self.arbiter.audit(f"ha_{role}", who, reason, epoch=ha.epoch, previous=event["from"],
                           peer=ha.peer)
        self.arbiter.publish("ha", event)
        await self.apply_role()
        return event

    async def apply_role(self) -> None:
        """Gateway first (hold or tag commands), then instances, then the mirror link;
        an active core's link first: it fences the old primary (its HELLO carries the
        new epoch), which must not wait for our devices to start and settle."""
        ha = self.ha
        with contextlib.suppress(RpcError):
            await self.gateway("ha_role")
        if ha.active:
            await self.restart_mirror(f"role {ha.role}")
        try:
            await self.arbiter.reload()
        except (ConfigError, RpcError) as exc:
            log.error("ha: instances not switched to the %s role: %s", ha.role, exc)
        if not ha.active:
            await self.restart_mirror(f"role {ha.role}")

    async def restart_mirror(self, why: str, **extra: Any) -> None:
        """The ``ha-mirror`` link process again, with the current role and epoch."""
        ha = self.ha
        old = self.arbiter.instances.pop(ha_setup.MIRROR, None)
        if old is not None:
            await self.arbiter.stop_instance(old, why)
        links = ha_setup.link_roles(ha, self.arbiter.paths.data, self.arbiter.paths.config,
                                    self.listen())
        for spec in links.values():
            spec["link"].update(extra)
        self.arbiter.links.pop(ha_setup.MIRROR, None)
        self.arbiter.links.update(links)
        if links:
            inst = self.arbiter._make(self.arbiter._system_config(ha_setup.MIRROR,
                                                                  ha_setup.MIRROR))
            self.arbiter.instances[ha_setup.MIRROR] = inst
            inst.start(why)


class Ha(HaCommand):
    """Show this core's HA role (primary, standby or active), epoch, peer and the mirror
    lag in datapoints and seconds."""

    name = "ha"
    args = ()

    async def execute(self, args: dict[str, Any]) -> Any:
        ha = self.ha
        out: dict[str, Any] = {"role": ha.role, "epoch": ha.epoch, "peer": ha.peer,
                               "since": ha.since, "reason": ha.reason, "state": None,
                               "lag_dp": None, "lag_s": None}
        followers = await self.followers()
        if ha.role == "standby":
            bus = self.mirror_bus()
            out.update(state=bus.get("state", "starting"), lag_dp=bus.get("lag_dp"),
                       lag_s=bus.get("lag_s"), mirrored_dp=bus.get("mirrored_dp"),
                       peer_role=bus.get("peer_role"), peer_epoch=bus.get("peer_epoch"),
                       silent_s=bus.get("silent_s"))
        else:
            live = [f for f in followers if f["state"] == "connected"]
            if live:
                out.update(state="mirrored", lag_dp=live[0]["lag_dp"], lag_s=live[0]["lag_s"],
                           peer=ha.peer or live[0]["listen"] or live[0]["address"])
            else:
                out["state"] = "fenced" if ha.fenced else "alone"
        out["self_fenced"] = ha.fenced or None  # supervisor/ha_selffence.py
        out["followers"] = followers
        return out


class HaTrust(HaCommand):
    """Trust a standby core's key (its ``edgectl node-key``) to mirror and take over.

    The key is kept as kind standby in the trust store: it may mirror this core and,
    when this core fails, take over from it."""

    name = "ha_trust"
    args = (Arg("key", required=True, help="the standby's public key (Z85)", most=200),
            Arg("name", default="standby", help="a name for it", least=1, most=200))

    async def execute(self, args: dict[str, Any]) -> Any:
        if self.arbiter.ha is None:
            raise RpcError("a satellite takes no standby core", UNAVAILABLE)
        store = self.store()
        try:
            entry = store.trust_standby(args["key"], args["name"])
        except (TrustError, ValueError) as exc:
            raise RpcError(str(exc), BAD_REQUEST) from None
        store.save()
        self.arbiter.audit("ha_trust", "edgectl", f"standby {entry['name']}", key=entry["key"])
        await self.apply()
        return entry


class HaApply(HaCommand):
    """(ha-mirror) Write mirrored files from the primary (atomic, backed up) and apply
    them: config by reload, the trust store in the gateway."""

    name = "ha_apply"
    args = (Arg("files", "dict", required=True, most=64,
                help="mirrored file (config/NAME or data/NAME) -> its text, or null: gone"),)

    def target(self, rel: str) -> Path:
        where, _, name = rel.partition("/")
        if where == "config" and name in wire.CONFIG_FILES:
            return self.arbiter.paths.config / name
        if where == "data" and name in wire.DATA_FILES:
            return self.arbiter.paths.data / name
        raise RpcError(f"{rel!r} is not a mirrored file", BAD_REQUEST)

    async def execute(self, args: dict[str, Any]) -> Any:
        if self.ha.role != "standby":
            raise RpcError(f"this core is {self.ha.role}: it mirrors nothing", REFUSED)
        files = args["files"]
        docs: dict[Path, Any] = {}
        for rel, text in files.items():
            path = self.target(str(rel))
            try:
                docs[path] = None if text is None else json.loads(text)
            except ValueError as exc:
                raise RpcError(f"mirrored {rel}: invalid JSON ({exc}); nothing applied",
                               BAD_REQUEST) from None
        trust = self.arbiter.paths.data / "satellites.json"
        if isinstance(docs.get(trust), dict):  # the primary may mirror from us after a failover
            pinned = load_pinned_primary(self.arbiter.paths.data)
            if pinned is not None:
                docs[trust].setdefault("standby", {})["primary"] = {"key": pinned.decode()}
        for path, doc in docs.items():
            if doc is None:  # gone on the primary: kept in the backups, removed here
                if path.exists():
                    import shutil  # here: kept out of the idle supervisor (common/files.py)

                    self.arbiter.paths.backups.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, self.arbiter.paths.backups /
                                 f"{path.name}.{time.strftime('%Y%m%dT%H%M%S')}")
                    path.unlink()
            else:
                atomic_write_json(path, doc, backup_dir=self.arbiter.paths.backups)
        if trust in docs:
            await self.apply()
        if any(p.parent == self.arbiter.paths.config for p in docs):
            try:
                await self.arbiter.reload()
            except ConfigError as exc:
                raise RpcError("mirrored config written, but it does not load here",
                               BAD_REQUEST, exc.errors) from None
        return {"written": sorted(str(p) for p in docs)}


class HaSeen(HaCommand):
    """(link processes) A peer or satellite showed a higher epoch: persist it."""

    name = "ha_seen"
    args = (EPOCH,)

    async def execute(self, args: dict[str, Any]) -> Any:
        epoch = args["epoch"]
        if epoch > self.ha.epoch:
            self.ha.epoch = epoch
            self.ha.save(self.arbiter.paths.data)
        return {"epoch": self.ha.epoch}


class HaPromote(HaCommand):
    """Promote this standby to the active core (a planned switch-over): the epoch grows
    by one, the primary is fenced and demotes itself when it hears of it."""

    name = "ha_promote"
    args = (REASON, WHO)

    async def execute(self, args: dict[str, Any]) -> Any:
        if self.ha.role != "standby":
            raise RpcError(f"this core is already {self.ha.role}", REFUSED)
        reason, who = args["reason"], args["who"]
        if who != "ha" and self.mirror_bus().get("state") == "mirroring":
            # planned, the primary reachable: it hands over (its satellites wait until we
            # hold all it took), so nothing is lost or taken twice
            await self.restart_mirror("asking the primary to hand over",
                                      ask_handover=f"{reason} (by {who})")
            for _ in range(HANDOVER_WAIT_S * 10):
                if self.ha.role == "active":
                    return {"from": "standby", "to": "active", "epoch": self.ha.epoch,
                            "peer": self.ha.peer, "reason": self.ha.reason}
                await asyncio.sleep(0.1)
            log.warning("ha: the primary did not hand over within %d s: promoting anyway",
                        HANDOVER_WAIT_S)
        return await self.switch("active", reason, who, epoch=self.ha.epoch + 1)


class HaDemote(HaCommand):
    """Hand over to the connected standby: it promotes itself and this core, fenced by
    its higher epoch, becomes its standby."""

    name = "ha_demote"
    args = (REASON,)

    async def execute(self, args: dict[str, Any]) -> Any:
        if not self.ha.active:
            raise RpcError("this core is already a standby", REFUSED)
        live = [f for f in await self.followers() if f["state"] == "connected"]
        if not live:
            raise RpcError("no standby is connected to take over", UNAVAILABLE)
        epoch = self.ha.epoch
        # satellites are refused (they keep their buffers) until the standby holds all
        # we took: it then takes over with their exact sequences, nothing taken twice
        await self.gateway("ha_quiesce")
        last, still = None, 0
        for _ in range(MIRRORED_WAIT_S * 10):
            row = next((f for f in await self.followers() if f["key"] == live[0]["key"]), None)
            if row is None or row["lag_dp"] == 0:
                break
            # a lag that stopped shrinking waits for satellites' resends, which a
            # quiesced core cannot get: the hand-over's final marks cover those values
            last, still = row["lag_dp"], (still + 1 if row["lag_dp"] == last else 0)
            if still >= STUCK_TICKS:
                break
            await asyncio.sleep(0.1)
        await self.gateway("ha_handover", key=live[0]["key"],
                           reason=args["reason"])
        for _ in range(FENCED_WAIT_S * 10):  # the standby's HELLO as active fences us
            if self.ha.role == "standby":
                return {"role": "standby", "epoch": self.ha.epoch, "peer": self.ha.peer}
            await asyncio.sleep(0.1)
        await self.gateway("ha_role")  # satellites welcome again
        raise RpcError(f"the standby did not take over within {FENCED_WAIT_S} s (epoch "
                       f"still {epoch})", UNAVAILABLE)


class HaFenced(HaCommand):
    """(gateway) A peer is active with a higher epoch: demote to its standby."""

    name = "ha_fenced"
    args = (EPOCH, Arg("key", help="the active peer's public key", most=200),
            Arg("peer", help="the active peer's HOST:PORT", most=300),
            Arg("reason", default="fenced", help="why", most=500))

    async def execute(self, args: dict[str, Any]) -> Any:
        epoch = args["epoch"]
        if epoch <= self.ha.epoch or not self.ha.active:
            return {"role": self.ha.role, "epoch": self.ha.epoch}
        key = args.get("key")
        if isinstance(key, str):
            pin_primary(self.arbiter.paths.data, keys.check_key(key, "peer key"))
        peer = args.get("peer")
        if isinstance(peer, str):
            satwire.parse_hostport(peer)
        return await self.switch("standby", args["reason"], "ha",
                                 epoch=epoch, peer=peer if isinstance(peer, str) else None)


class HaFailover(HaCommand):
    """(ha-mirror) The primary is unreachable: promote if the vote allows it."""

    name = "ha_failover"
    args = (Arg("reason", default="the primary is unreachable", help="what the mirror saw",
                most=500),
            Arg("silent_s", "float", least=0, required=True,
                help="seconds the primary has been silent"))

    async def execute(self, args: dict[str, Any]) -> Any:
        if self.ha.role != "standby":
            return {"promoted": False, "detail": f"this core is {self.ha.role}"}
        allowed, why = await self.vote(args["silent_s"])
        if not allowed:
            log.warning("ha: no failover: %s", why)
            return {"promoted": False, "detail": why}
        reason = f"failover: {args['reason']}; {why}"
        await self.switch("active", reason, "ha", epoch=self.ha.epoch + 1)
        return {"promoted": True, "detail": reason}

    async def vote(self, silent_s: float) -> tuple[bool, str]:
        """A satellite that came to this standby during this silence, having lost the
        active core for ``failover_s`` itself (ipc/ha/vote.py); with none, a configured
        witness must answer. Nobody to ask: no promotion (a cut between the cores alone
        looks just like this, and then the satellites stay with the primary)."""
        failover_s = ha_setup.ha_settings(self.arbiter.paths.config)["failover_s"]
        try:
            votes = dict(await self.gateway("ha_votes", silent_s=silent_s,
                                            failover_s=failover_s))
        except RpcError:
            votes = {}
        if votes:
            lost = ", ".join(f"{i} for {s:.1f} s" for i, s in sorted(votes.items()))
            return True, f"satellite(s) lost the primary too: {lost}"
        witness = ha_setup.ha_settings(self.arbiter.paths.config).get("witness")
        if not witness:
            return False, ("no satellite lost the primary and no witness is configured: "
                           "a cut between the cores alone does not promote")
        host, port = satwire.parse_hostport(str(witness), 0)
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                               WITNESS_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            return False, f"witness {witness} does not answer either ({exc or 'timeout'})"
        writer.close()
        return True, f"witness {witness} answers"
