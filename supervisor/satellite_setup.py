"""What ``edgeos`` needs before it starts the satellite link processes.

The flags of CONTRACT sections 2 and 8 become the specs of the two supervised link
roles: ``uplink`` on a satellite (``--satellite``) and ``satellite-gateway`` on a core
(``--satellite-listen``, unless ``off``). Everything a user can get wrong (a missing
id, a malformed key, a port already taken, libzmq without CURVE) is a ValueError with
a one-line reason here, at start, never a child that crash-loops. The node's key pair
is made and checked at start by the validation helper (``ValidatorProcess.node_keys``),
and the trust store's module is imported where a satellite or the gateway needs it: a
node without satellite links keeps ``zmq.auth``, the key module and the store out of its
supervisor (issue 16, RSS).
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
from pathlib import Path
from typing import Any

from edgeos.ipc.satellite import wire
from edgeos.supervisor.ha_setup import core_list

log = logging.getLogger("edgeos")

UPLINK = "uplink"
GATEWAY = "satellite-gateway"
ROLE_ARG = {UPLINK: "uplink", GATEWAY: "gateway"}
DEFAULT_BUFFER_MB = 256
SATELLITE_MAX_PPS = 1e9  # a satellite's traffic is its devices', limited on the satellite


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags not yet declared by the daemon's parser."""
    p.add_argument("--core-key", help="the core's public key (Z85, `edgectl node-key` on "
                                      "the core); default: the key pinned on first use")
    p.add_argument("--satellite-listen", default=f"0.0.0.0:{wire.DEFAULT_PORT}",
                   help="HOST:PORT for satellites and remote edgectl, or 'off'")
    p.add_argument("--mdns", help="ADDR[,ADDR]: the interface addresses mDNS discovery "
                                  "uses (core: announce, satellite without --core-host: "
                                  "browse), or 'off'; default: edgeos.json satellite.mdns, "
                                  "else the listen address, else the mDNS route's address")


def buffer_mb(config_dir: Path) -> int:
    """``edgeos.json`` -> ``satellite.buffer_mb`` (default 256)."""
    path = config_dir / "edgeos.json"
    if not path.exists():
        return DEFAULT_BUFFER_MB
    try:
        value = json.loads(path.read_text("utf-8")).get("satellite", {}).get("buffer_mb",
                                                                              DEFAULT_BUFFER_MB)
    except (ValueError, AttributeError):
        return DEFAULT_BUFFER_MB  # the settings loader reports the broken file
    if not isinstance(value, int | float) or not 1 <= value <= 1_000_000:
        raise ValueError(f"{path}: satellite.buffer_mb must be a number of MB from 1 to "
                         f"1000000, got {value!r}")
    return int(value)


def mdns_interfaces(args: argparse.Namespace, config_dir: Path,
                    listen_host: str | None = None) -> list[str]:
    """The addresses mDNS may use ([]: off): ``--mdns``, else ``edgeos.json``
    ``satellite.mdns`` (a list or "off"), else a concrete listen address, else the one
    address the kernel routes mDNS through. Never every interface."""
    from edgeos.ipc.satellite import mdns

    if args.mdns:
        return [] if args.mdns == "off" else mdns.check_addresses(args.mdns.split(","),
                                                                  "--mdns")
    path = config_dir / "edgeos.json"
    value = None
    if path.exists():
        try:
            value = json.loads(path.read_text("utf-8")).get("satellite", {}).get("mdns")
        except (ValueError, AttributeError):
            value = None  # the settings loader reports the broken file
    if value == "off":
        return []
    if value is not None:
        if not isinstance(value, list):
            raise ValueError(f"{path}: satellite.mdns must be a list of interface addresses "
                             f"or \"off\", got {value!r}")
        return mdns.check_addresses(value, f"{path}: satellite.mdns")
    if listen_host and listen_host not in ("0.0.0.0", "::"):
        return [listen_host] if ":" not in listen_host else []
    source = mdns.multicast_source()
    return [source] if source else []


def _check_bindable(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ValueError(f"--satellite-listen {host}:{port}: cannot bind: "
                             f"{exc.strerror}") from None


def _core_key(args: argparse.Namespace, data: Path) -> str | None:
    """``--core-key`` (pinned for later starts), else the pinned key, else None: the
    uplink learns it on first use from the core's key service and pins it."""
    from edgeos.ipc.satellite import keys

    pinned = keys.load_pinned_core(data)
    if args.core_key:
        given = keys.check_key(args.core_key, "--core-key")
        if pinned is not None and pinned != given:
            log.warning("--core-key differs from the pinned core key; pinning the new one")
        if pinned != given:
            keys.pin_core(data, given)
        return given.decode("ascii")
    return None if pinned is None else pinned.decode("ascii")


def link_roles(args: argparse.Namespace, data: Path, config: Path) -> dict[str, dict[str, Any]]:
    """Role -> ``{"arg", "link"}`` for the link processes this daemon runs."""
    roles: dict[str, dict[str, Any]] = {}
    if args.satellite:
        if not args.satellite_id:
            raise ValueError("--satellite needs --satellite-id ID")
        from edgeos.ipc.satellite.trust import TrustError, check_id

        try:
            check_id(args.satellite_id)
        except TrustError as exc:
            raise ValueError(f"--satellite-id: {exc}") from None
        host: str | None = None
        port: int | None = None
        browse: list[str] = []
        cores: list[Any] = []
        if args.core_host:
            host, port = wire.parse_hostport(args.core_host.split(",")[0], args.core_port)
            cores = core_list(args.core_host, args.core_key, args.core_port)  # HA: both cores
        else:
            browse = mdns_interfaces(args, config)
            if not browse:
                raise ValueError("--satellite needs --core-host HOST[:PORT], or mDNS "
                                 "discovery on an interface (--mdns ADDR; it is off or "
                                 "no interface routes mDNS)")
        roles[UPLINK] = {"arg": ROLE_ARG[UPLINK], "link": {
            "satellite_id": args.satellite_id, "core_host": host, "core_port": port,
            "core_key": cores[0][2] if cores else _core_key(args, data),
            "tofu": not args.core_key, "buffer_mb": buffer_mb(config), "mdns": browse,
            "cores": cores}}
    elif args.satellite_listen != "off":
        host, port = wire.parse_hostport(args.satellite_listen)
        _check_bindable(host, port)
        _check_bindable(host, wire.key_port(port))
        from edgeos.ipc.satellite.trust import TrustError, TrustStore

        try:
            TrustStore.load(data)
        except TrustError as exc:
            raise ValueError(str(exc)) from None
        roles[GATEWAY] = {"arg": ROLE_ARG[GATEWAY],
                          "link": {"listen": f"{host}:{port}",
                                   "mdns": mdns_interfaces(args, config, host)}}
    return roles


def satellite_instances(data: Path) -> dict[str, dict[str, Any]]:
    """The broker's view of trusted satellites: one instance per satellite id, so
    ``<sat>.<instance>.<path>`` resolves to it (the gateway speaks for it). Asked on a
    core with a gateway only."""
    from edgeos.ipc.satellite.trust import TrustError, TrustStore

    try:
        trusted = TrustStore.load(data).trusted
    except TrustError:
        return {}
    return {sat_id: {"type": "satellite", "max_pps": SATELLITE_MAX_PPS, "cut": False}
            for sat_id in trusted}


def remote_rows(instances: dict[str, Any]) -> list[dict[str, Any]]:
    """The connected satellites' workers as ``<sat>.<id>`` rows with ``host`` (from the
    gateway's last heartbeat), for the live stats the admin UI shows."""
    gateway = instances.get(GATEWAY)
    if gateway is None or gateway.pid is None:
        return []
    sats = gateway.counters.get("satellites") or {}
    return [{**row, "id": f"{sat_id}.{row['id']}", "host": sat_id}
            for sat_id, rows in sats.items() for row in rows if row.get("role") == "worker"]
