"""``edgectl node-key`` and ``edgectl satellites [trust KEY [--id ID] | trust --pending ID
| revoke ID]``: parsers, requests and what a person reads."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from edgeos.supervisor import satellite_commands as sat
from edgeos.supervisor.cli_args import add_command, rpc_args

VERBS = ("node-key", "satellites", "remote")

COLUMNS = [("id", "ID"), ("state", "STATE"), ("key", "KEY"), ("address", "ADDRESS"),
           ("last_seen", "LAST SEEN"), ("backlog", "BACKLOG"), ("rtt_ms", "RTT MS"),
           ("delivered", "DELIVERED"), ("duplicates_dropped", "DUPLICATES")]


def add_parsers(sub: Any) -> None:
    add_command(sub, "node-key", sat.NodeKey)
    sub.add_parser("client-key", help="your client key for --endpoint (made on first use)")
    rem = sub.add_parser("remote", help="client keys admitted to edgectl --endpoint")
    rsub = rem.add_subparsers(dest="remote_verb", required=True)
    add_command(rsub, "list", sat.RemoteList)
    add_command(rsub, "trust", sat.RemoteTrust, ("key",), {"--name": "name", "--role": "role"})
    add_command(rsub, "revoke", sat.RemoteRevoke, ("name",))
    add_command(sub, "satellites", sat.Satellites)
    ssub = sub.choices["satellites"].add_subparsers(dest="sat_verb")
    add_command(ssub, "trust", sat.SatellitesTrust, ("key",),
                {"--id": "id", "--pending": "pending"}, metavars={"pending": "ID"})
    add_command(ssub, "revoke", sat.SatellitesRevoke, ("id",), metavars={"id": "ID"})


def _when(ts: Any) -> str:
    return "-" if not ts else time.strftime("%H:%M:%S", time.localtime(float(ts)))


def show_list(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no satellites"
    shown = [{**r, "key": (r.get("key") or "")[:12] + "...", "last_seen": _when(
        r.get("last_seen"))} for r in rows]
    cols = [(k, h) for k, h in COLUMNS if any(k in r for r in rows)]
    widths = [max(len(h), *(len(str(r.get(k) if r.get(k) is not None else "-"))
                            for r in shown)) for k, h in cols]
    lines = ["  ".join(h.ljust(w) for (_, h), w in zip(cols, widths, strict=True))]
    for r in shown:
        lines.append("  ".join(str(r.get(k) if r.get(k) is not None else "-").ljust(w)
                               for (k, _), w in zip(cols, widths, strict=True)).rstrip())
    return "\n".join(lines)


def request(args: argparse.Namespace) -> tuple[str, dict[str, Any], Callable[[Any], str]]:
    """(rpc command, arguments, formatter) for the satellite verbs."""
    show: Callable[[Any], str] = {
        "node_key": lambda r: r["key"],
        "remote_trust": lambda r: f"trusted {r['name']} ({r['role']})",
        "remote_revoke": lambda r: f"revoked {r['name']}",
        "remote_list": lambda rows: "\n".join(
            f"{r['name']}  {r['role']}  {r['key']}" for r in rows) or "no client keys",
        "satellites_trust": lambda r: f"trusted {r['id']} ({r['key']})",
        "satellites_revoke": lambda r: f"revoked {r['id']}",
    }.get(args.command, show_list)
    return args.command, rpc_args(args), show


def client_key() -> str:
    """``edgectl client-key``: made locally on first use, no daemon needed."""
    from edgeos.ipc.satellite.remote_client import client_keys

    return client_keys()[0].decode("ascii")


def remote_client(args: argparse.Namespace) -> Any:
    """The CURVE client for ``--endpoint tcp://HOST:PORT``; ValueError on a bad URL or a
    verb that needs the local daemon (``logs -f`` follows the local events feed)."""
    from edgeos.ipc.satellite.remote_client import RemoteRpcClient

    if args.verb == "logs" and args.follow:
        raise ValueError("logs -f works only on the daemon's own host (no --endpoint)")
    endpoint, timeout = args.endpoint, args.timeout

    return RemoteRpcClient(endpoint, timeout)
