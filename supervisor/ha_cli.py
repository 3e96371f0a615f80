"""``edgectl ha [trust KEY [--name N] | promote | demote]``: parsers, requests and what
a person reads."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from edgeos.supervisor import ha_commands as ha
from edgeos.supervisor.cli_args import add_command, rpc_args

VERBS = ("ha",)


def add_parsers(sub: Any) -> None:
    add_command(sub, "ha", ha.Ha)
    hsub = sub.choices["ha"].add_subparsers(dest="ha_verb")
    add_command(hsub, "trust", ha.HaTrust, ("key",), {"--name": "name"})
    add_command(hsub, "promote", ha.HaPromote, (), {"--reason": "reason"})
    add_command(hsub, "demote", ha.HaDemote, (), {"--reason": "reason"})


def show_status(r: dict[str, Any]) -> str:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["since"])) \
        if r.get("since") else "-"
    lag = "-" if r.get("lag_dp") is None else f"{r['lag_dp']} datapoints, {r['lag_s']} s"
    lines = [f"role:   {r['role']} (since {since}{': ' + r['reason'] if r.get('reason') else ''})",
             f"epoch:  {r['epoch']}", f"peer:   {r.get('peer') or '-'}",
             f"state:  {r.get('state') or '-'}", f"lag:    {lag}"]
    for f in r.get("followers") or []:
        lines.append(f"standby {f['name']}: {f['state']} {f.get('address') or ''} "
                     f"lag {f['lag_dp']} dp / {f['lag_s']} s")
    return "\n".join(lines)


def request(args: argparse.Namespace) -> tuple[str, dict[str, Any], Callable[[Any], str]]:
    """(rpc command, arguments, formatter) for ``edgectl ha ...``."""
    show: Callable[[Any], str] = {
        "ha_trust": lambda r: f"trusted standby {r['name']} ({r['key']})",
        "ha_promote": lambda r: f"{r['from']} -> {r['to']} at epoch {r['epoch']}",
        "ha_demote": lambda r: f"standby of {r['peer']} at epoch {r['epoch']}",
    }.get(args.command, show_status)
    return args.command, rpc_args(args), show
