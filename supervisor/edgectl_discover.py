"""``edgectl discover``: start a discovery job on the daemon and follow it to the end.

    edgectl discover modbus tcp://HOST:PORT [--units A-B] [--request-timeout S]
    edgectl discover mbus PORT [--addresses A-B | --secondary [--mask M]] [--baudrate N]
    edgectl discover ble [ADAPTER] [--duration S]
    edgectl discover list | status JOB | cancel JOB

Progress goes to stderr as one updating line; the result (units found, with a
connection ready to review) to stdout, for a person or with ``--json`` as one document.
Ctrl-C cancels the job on the daemon.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from edgeos.ipc.rpc import RpcClient
from edgeos.supervisor import discover_commands as dc
from edgeos.supervisor.cli_args import add_command

POLL_S = 0.2


def add_parser(sub: Any) -> None:
    """``discover KIND``: one command (``discover``) whose options depend on the kind, so
    the kinds are parsers of their own; the options' help is the command's."""
    d = sub.add_parser("discover", help="find devices: modbus units and their SunSpec models")
    dsub = d.add_subparsers(dest="discover_verb", required=True)

    def option(parser: argparse.ArgumentParser, flag: str, name: str, default: Any,
               **kwargs: Any) -> None:
        arg = dc.Discover.arg(name)
        parser.add_argument(flag, dest=flag.lstrip("-").replace("-", "_"), default=default,
                            help=f"{arg.help} (default {default})", **kwargs)

    m = dsub.add_parser("modbus", help="probe unit ids on tcp://HOST:PORT or rtu://PORT")
    m.add_argument("target", help=dc.Discover.arg("target").help)
    option(m, "--units", "units", "1-247")
    option(m, "--request-timeout", "timeout_s", 0.5, type=float)
    mb = dsub.add_parser("mbus", help="scan an M-Bus line: primary addresses or a "
                                      "secondary address search")
    mb.add_argument("target", help=dc.Discover.arg("target").help)
    mb.add_argument("--secondary", action="store_true",
                    help="search by secondary address (wildcards) instead of primary")
    option(mb, "--addresses", "addresses", "0-250")
    option(mb, "--mask", "mask", "FFFFFFFFFFFFFFFF")
    option(mb, "--baudrate", "baudrate", 2400, type=int)
    option(mb, "--request-timeout", "timeout_s", 0.5, type=float)
    bl = dsub.add_parser("ble", help="list Bluetooth LE devices in range, BMS kinds identified")
    bl.add_argument("adapter", nargs="?", default="default", help="e.g. hci0")
    option(bl, "--duration", "duration_s", 10.0, type=float)
    add_command(dsub, "list", dc.DiscoverList)
    add_command(dsub, "status", dc.DiscoverStatus, ("job",))
    add_command(dsub, "cancel", dc.DiscoverCancel, ("job",))


def _unit_line(u: dict[str, Any]) -> str:
    if u["sunspec"]:
        who = " ".join(v for v in (u.get("identity") or {}).values() if v)
        what = f"SunSpec models {', '.join(map(str, u['sunspec']))} at " \
               f"{u['sunspec_base']}" + (f" ({who})" if who else "")
    else:
        what = "tables: " + (", ".join(f"{t['table']} {t['address']}+{t['count']}"
                                       for t in u["tables"]) or "none answer")
    return f"unit {u['unit_id']:>3}: {what}; {len(u['registers'])} registers " \
           f"mapped, connection {u['connection']['id']}"


def _meter_line(m: dict[str, Any]) -> str:
    where = f"address {m['address']:>3}" if "address" in m else f"secondary {m['secondary']}"
    return f"{where}: " + (m["error"] if "error" in m else
                           f"id {m['id']} {m['manufacturer']} {m['medium']}, "
                           f"{len(m['records'])} records")


def _device_table(devices: list[dict[str, Any]]) -> str:
    return _rows([[d["address"], str(d["rssi"]), d["kind"] or "-", d["name"] or "",
                   "key needed" if d.get("needs_key") else ""] for d in devices],
                 ["ADDRESS", "RSSI", "KIND", "NAME", ""])


def _lines(line: Callable[[dict[str, Any]], str]) -> Callable[[list[dict[str, Any]]], str]:
    return lambda found: "\n".join(map(line, found))


#: per kind: where its finds stand in the result, what to say without any, how to show them
SHOW: dict[str, tuple[str, str, Callable[[list[dict[str, Any]]], str]]] = {
    "modbus": ("units", "no units found", _lines(_unit_line)),
    "mbus": ("meters", "no meters found", _lines(_meter_line)),
    "ble": ("devices", "no devices in range", _device_table),
}


def show_found(kind: str, result: dict[str, Any]) -> str:
    """A finished discovery job's result as text."""
    key, none, show = SHOW[kind]
    found = result.get(key, [])
    return show(found) if found else none


def _rows(rows: list[list[str]], head: list[str]) -> str:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in [head, *rows])


def run(args: argparse.Namespace, client: RpcClient) -> int:
    """Exit 0 when the job finished, 1 when it failed or was cancelled."""
    verb = args.discover_verb
    if verb == "list":
        jobs = client.call("discover_list")
        print(json.dumps(jobs) if args.json else "\n".join(
            f"{j['id']}  {j['kind']:<7} {j['state']:<9} {j['progress']:>4.0%}  {j['target']}"
            for j in jobs) or "no jobs")
        return 0
    if verb in ("status", "cancel"):
        job = client.call(f"discover_{verb}" if verb == "cancel" else "discover_status",
                          job=args.job)
        print(json.dumps(job) if args.json else
              f"{job['id']} {job['state']} {job['progress']:.0%} {job['message']}")
        return 0
    if verb == "modbus":
        job = client.call("discover", kind="modbus", target=args.target, units=args.units,
                          timeout_s=args.request_timeout)
    elif verb == "ble":
        job = client.call("discover", kind="ble", target=args.adapter,
                          duration_s=args.duration)
    else:
        options: dict[str, Any] = {"mode": "secondary", "mask": args.mask} if args.secondary \
            else {"mode": "primary", "addresses": args.addresses}
        job = client.call("discover", kind="mbus", target=args.target, baudrate=args.baudrate,
                          timeout_s=args.request_timeout, **options)
    try:
        while job["state"] == "running":
            if not args.json:
                print(f"\r{job['progress']:>4.0%} {job['message'][:70]:<70}", end="",
                      file=sys.stderr, flush=True)
            time.sleep(POLL_S)
            job = client.call("discover_status", job=job["id"])
    except KeyboardInterrupt:
        job = client.call("discover_cancel", job=job["id"])
    if not args.json:
        print(file=sys.stderr)
    if job["state"] != "done":
        if args.json:
            print(json.dumps({"error": job["error"] or job["state"], "job": job["id"]}))
        else:
            print(f"edgectl: discovery {job['state']}: {job['error'] or ''}", file=sys.stderr)
        return 1
    print(json.dumps(job["result"]) if args.json else show_found(verb, job["result"]))
    return 0
