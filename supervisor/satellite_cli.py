"""``edgectl node-key`` and ``edgectl satellites [trust KEY [--id ID] | trust --pending ID
| revoke ID]``: parsers, requests and what a person reads."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

VERBS = ("node-key", "satellites", "remote")

COLUMNS = [("id", "ID"), ("state", "STATE"), ("key", "KEY"), ("address", "ADDRESS"),
           ("last_seen", "LAST SEEN"), ("backlog", "BACKLOG"), ("rtt_ms", "RTT MS"),
           ("delivered", "DELIVERED"), ("duplicates_dropped", "DUPLICATES")]


def add_parsers(sub: Any) -> None:
    sub.add_parser("node-key", help="this daemon's public key (Z85)")
    sub.add_parser("client-key", help="your client key for --endpoint (made on first use)")
    rem = sub.add_parser("remote", help="client keys admitted to edgectl --endpoint")
    rsub = rem.add_subparsers(dest="remote_verb", required=True)
    rsub.add_parser("list")
    rt = rsub.add_parser("trust", help="admit a client key")
    rt.add_argument("key")
    rt.add_argument("--name", required=True)
    rt.add_argument("--role", choices=("admin", "viewer"), required=True)
    rr = rsub.add_parser("revoke")
    rr.add_argument("name")
    sat = sub.add_parser("satellites", help="satellites: list, trust, revoke")
    ssub = sat.add_subparsers(dest="sat_verb")
    tr = ssub.add_parser("trust", help="admit a satellite key (or a pending one by id)")
    tr.add_argument("key", nargs="?")
    tr.add_argument("--id", dest="sat_id")
    tr.add_argument("--pending", metavar="ID")
    rv = ssub.add_parser("revoke", help="revoke a satellite: its link closes at once")
    rv.add_argument("sat_id", metavar="ID")


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
    if args.verb == "node-key":
        return "node_key", {}, lambda r: r["key"]
    if args.verb == "remote":
        if args.remote_verb == "trust":
            return ("remote_trust", {"key": args.key, "name": args.name, "role": args.role},
                    lambda r: f"trusted {r['name']} ({r['role']})")
        if args.remote_verb == "revoke":
            return "remote_revoke", {"name": args.name}, lambda r: f"revoked {r['name']}"
        return "remote_list", {}, lambda rows: "\n".join(
            f"{r['name']}  {r['role']}  {r['key']}" for r in rows) or "no client keys"
    verb = getattr(args, "sat_verb", None)
    if verb == "trust":
        body = {"key": args.key, "id": args.sat_id, "pending": args.pending}
        return "satellites_trust", body, lambda r: f"trusted {r['id']} ({r['key']})"
    if verb == "revoke":
        return "satellites_revoke", {"id": args.sat_id}, lambda r: f"revoked {r['id']}"
    return "satellites", {}, show_list


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
