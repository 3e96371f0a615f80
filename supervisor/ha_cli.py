"""``edgectl ha [trust KEY [--name N] | promote | demote]``: parsers, requests and what
a person reads."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

VERBS = ("ha",)


def add_parsers(sub: Any) -> None:
    ha = sub.add_parser("ha", help="high availability: role, epoch, peer, mirror lag")
    hsub = ha.add_subparsers(dest="ha_verb")
    tr = hsub.add_parser("trust", help="trust a standby core's key (edgectl node-key on it)")
    tr.add_argument("key")
    tr.add_argument("--name", default="standby")
    pr = hsub.add_parser("promote", help="make this standby the active core")
    pr.add_argument("--reason", default="planned switch-over")
    de = hsub.add_parser("demote", help="hand over to the connected standby")
    de.add_argument("--reason", default="planned switch-over")


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
    verb = getattr(args, "ha_verb", None)
    if verb == "trust":
        return ("ha_trust", {"key": args.key, "name": args.name},
                lambda r: f"trusted standby {r['name']} ({r['key']})")
    if verb == "promote":
        return ("ha_promote", {"reason": args.reason, "who": "edgectl"},
                lambda r: f"{r['from']} -> {r['to']} at epoch {r['epoch']}")
    if verb == "demote":
        return ("ha_demote", {"reason": args.reason},
                lambda r: f"standby of {r['peer']} at epoch {r['epoch']}")
    return "ha", {}, show_status
