"""``edgectl plugin ...``: the verbs of the plugin manager (kept out of edgectl.py so it
stays a list of verbs). ``install`` and ``update`` print pip's output as it comes and
exit 1 when the job failed."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeos.ipc.rpc import RpcClient
from edgeos.supervisor import plugin_commands as pc
from edgeos.supervisor.cli_args import add_command, rpc_args

WAIT_S = 20


def add_parser(sub: Any) -> None:
    pl = sub.add_parser("plugin", help="plugins: list, install, update, uninstall, "
                                       "enable, disable, readme")
    psub = pl.add_subparsers(dest="plugin_verb", required=True)
    add_command(psub, "list", pc.PluginList, (), {"--check": "check"})
    ins = add_command(psub, "install", pc.PluginInstall, ("source",))
    up = add_command(psub, "update", pc.PluginUpdate, ("name",))
    for verb in (ins, up):
        verb.add_argument("--no-wait", action="store_true", help="print the job id and return")
    for verb, command in (("uninstall", pc.PluginUninstall), ("disable", pc.PluginDisable)):
        add_command(psub, verb, command, ("name",), {"--stop-instances": "stop_instances"})
    add_command(psub, "enable", pc.PluginEnable, ("name",))
    add_command(psub, "readme", pc.PluginReadme, ("name",))
    add_command(psub, "job", pc.PluginJob, ("job",))


def use_plugins(data: str | None) -> None:
    """``edgectl validate`` knows the plugin types installed in the data dir, as the
    daemon does."""
    from edgeos.supervisor.paths import Paths
    from edgeos.supervisor.plugins import PLUGINS_DIR
    from edgeos.workers import registry

    registry.use_plugin_dir(Paths.resolve(None, data, None).data / PLUGINS_DIR)


def _who() -> str:
    try:
        return f"edgectl:{getpass.getuser()}"
    except (KeyError, OSError):
        return "edgectl:unknown"


def show_list(rows: list[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        where = "built in" if r["builtin"] else f"plugin {r['plugin']}"
        flags = [] if r["enabled"] else ["disabled"]
        if r.get("update_available"):
            flags.append(f"update {r['latest']} available")
        out.append(f"{r['name']:<14} {r.get('version') or '?':<10} {where:<24} "
                   f"{', '.join(flags)}".rstrip())
    return "\n".join(out)


def request(args: argparse.Namespace) -> tuple[str, dict[str, Any], Callable[[Any], str]]:
    """(rpc command, arguments, formatter) of a ``plugin`` verb."""
    v, body = args.plugin_verb, rpc_args(args)
    generic: Callable[[Any], str] = lambda r: json.dumps(r, indent=2, default=str)  # noqa: E731
    if v == "list":
        return args.command, body, show_list
    if v == "readme":
        return args.command, body, lambda r: r["markdown"]
    if v == "job":
        return args.command, body, generic
    if v == "install" and Path(args.source).exists():  # the daemon needs the full path
        body["source"] = str(Path(args.source).resolve())
    return args.command, {**body, "who": _who()}, generic


def follows(args: argparse.Namespace) -> bool:
    return args.verb == "plugin" and args.plugin_verb in ("install", "update", "job") \
        and not getattr(args, "no_wait", False)


def follow(client: RpcClient, first: dict[str, Any], as_json: bool) -> int:
    """Print a job's lines until it ends; 0 when it succeeded, 1 when it failed."""
    view = first
    while True:
        if not as_json:
            for line in view["lines"]:
                print(line, flush=True)
        if view["state"] != "running":
            break
        view = client.call("plugin_job", timeout=WAIT_S + 10, job=view["job"],
                           since=view["next"], wait=WAIT_S)
    if as_json:
        print(json.dumps({k: view[k] for k in ("job", "state", "result", "error", "detail")},
                         default=str))
    elif view["state"] == "failed":
        print(f"edgectl: {view['error']}", file=sys.stderr)
        for line in view.get("detail") or []:
            print(f"  {line}", file=sys.stderr)
    else:
        print(f"{view['action']} done: {json.dumps(view['result'], default=str)}")
    return 0 if view["state"] == "done" else 1
