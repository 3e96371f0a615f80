"""What ``edgeos`` needs before it starts as a core with high availability.

``--standby-of HOST[:PORT]`` makes this core a standby of that primary (first start;
afterwards ``<data>/ha.json`` holds the role, which promotion and demotion change).
A core that knows a peer runs the link role ``ha-mirror``: a standby mirrors from the
peer, an active core that took over keeps saying so to it (that fences a returning
primary). Everything a user can get wrong is a ValueError with a one-line reason here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from edgeos.ipc.ha.state import HaState, HaStateError
from edgeos.ipc.satellite import wire
from edgeos.supervisor.process import InstanceConfig

MIRROR = "ha-mirror"
DEFAULT_FAILOVER_S = 5.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--standby-of", metavar="HOST[:PORT]",
                   help="run as the standby core of this primary (its satellite listener)")
    p.add_argument("--primary-key", help="the primary's public key (Z85, `edgectl node-key` "
                                         "on it); default: pinned on first use")


def ha_settings(config_dir: Path) -> dict[str, Any]:
    """``edgeos.json`` ``ha`` (the schema checks it; defaults filled in here)."""
    path = config_dir / "edgeos.json"
    try:
        doc = json.loads(path.read_text("utf-8")) if path.exists() else {}
        ha = doc.get("ha") or {}
    except (ValueError, AttributeError):
        ha = {}  # the settings loader reports the broken file
    return {"failover_s": float(ha.get("failover_s", DEFAULT_FAILOVER_S)),
            "witness": ha.get("witness")}


def load_state(args: argparse.Namespace, data: Path) -> HaState | None:
    """The HA state of a core (None on a satellite); ``--standby-of`` on a first start
    makes it a standby, and names its primary while it is one."""
    if args.satellite:
        if args.standby_of:
            raise ValueError("--standby-of is for a core, not with --satellite")
        return None
    try:
        state = HaState.load(data)
    except HaStateError as exc:
        raise ValueError(str(exc)) from None
    if args.standby_of:
        host, port = wire.parse_hostport(args.standby_of)
        peer = f"{host}:{port}"
        if state is None:
            state = HaState(role="standby", peer=peer, reason="started with --standby-of")
            state.save(data)
        elif state.role == "standby" and state.peer != peer:
            state.peer = peer
            state.save(data)
    if args.primary_key:
        from edgeos.ipc.ha.mirror import load_pinned_primary, pin_primary  # issue 16, below
        from edgeos.ipc.satellite import keys  # so too: only where a key is given

        given = keys.check_key(args.primary_key, "--primary-key")
        if load_pinned_primary(data) != given:
            pin_primary(data, given)
    return state or HaState()


def mirror_link(state: HaState, data: Path, config: Path, listen: str) -> dict[str, Any]:
    """The spec of the ``ha-mirror`` role for the current role and epoch. The mirror's
    module (the link process's, with its dialer) is imported only on a core that has a
    peer: a node without HA keeps it out of the supervisor (issue 16, RSS)."""
    from edgeos.ipc.ha.mirror import load_pinned_primary

    pinned = load_pinned_primary(data)
    return {"arg": "mirror", "link": {
        "peer": state.peer, "peer_key": pinned.decode() if pinned else None,
        "role": state.role, "epoch": state.epoch, "listen": None if listen == "off" else listen,
        "name": "standby", **ha_settings(config)}}


def link_roles(state: HaState | None, data: Path, config: Path, listen: str
               ) -> dict[str, dict[str, Any]]:
    """``{"ha-mirror": spec}`` when this core knows a peer, else nothing."""
    if state is None or state.peer is None:
        return {}
    return {MIRROR: mirror_link(state, data, config, listen)}


def ha_view(state: HaState | None, configs: list[InstanceConfig]) -> list[InstanceConfig]:
    """On a standby only ``"mirror": true`` instances run: the others are held stopped
    (shown disabled), so a PLC connection is never opened by two cores; so too on a
    self-fenced active core."""
    if state is None or state.actuates:
        return configs
    return [c if c.mirror or not c.enabled else dataclasses.replace(c, enabled=False)
            for c in configs]


def core_list(core_host: str, core_key: str | None, default_port: int) -> list[list[Any]]:
    """``--core-host A,B --core-key KA,KB``: the cores a satellite knows (HA), each with
    its key (no trust on first use for a list: a key per host, in the same order).
    One host: [] (the single-core form, with its pinning)."""
    hosts = [h for h in core_host.split(",") if h.strip()]
    if len(hosts) < 2:
        return []
    from edgeos.ipc.satellite import keys  # a satellite's only (issue 16)

    given = [k for k in (core_key or "").split(",") if k.strip()]
    if len(given) != len(hosts):
        raise ValueError(f"--core-host names {len(hosts)} cores: give --core-key=K1,K2,... "
                         f"with one key per core, in the same order ({len(given)} given)")
    return [[*wire.parse_hostport(h, default_port), keys.check_key(k, f"--core-key #{i + 1}")
             .decode("ascii")] for i, (h, k) in enumerate(zip(hosts, given, strict=True))]
