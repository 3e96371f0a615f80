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

WAIT_S = 20


def add_parser(sub: Any) -> None:
    pl = sub.add_parser("plugin", help="plugins: list, install, update, uninstall, "
                                       "enable, disable, readme")
    psub = pl.add_subparsers(dest="plugin_verb", required=True)
    ls = psub.add_parser("list", help="worker types, built in and plugins")
    ls.add_argument("--check", action="store_true", help="ask the index for updates")
    ins = psub.add_parser("install", help="from plugins.index, a wheel or a folder")
    ins.add_argument("source", help="name[==version], or the path of a .whl or a folder")
    up = psub.add_parser("update", help="to the index's newest version")
    up.add_argument("name")
    for verb in ("install", "update"):
        (ins if verb == "install" else up).add_argument(
            "--no-wait", action="store_true", help="print the job id and return")
    for verb, text in (("uninstall", "remove a plugin"),
                       ("disable", "stop offering a type; reload and start refuse it")):
        v = psub.add_parser(verb, help=text)
        v.add_argument("name")
        v.add_argument("--stop-instances", action="store_true",
                       help="stop the type's instances first (else refused while there are)")
    psub.add_parser("enable", help="offer a type again").add_argument("name")
    psub.add_parser("readme", help="a type's README").add_argument("name")
    psub.add_parser("job", help="an install or update job's output").add_argument("job")


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
    v = args.plugin_verb
    generic: Callable[[Any], str] = lambda r: json.dumps(r, indent=2, default=str)  # noqa: E731
    if v == "list":
        return "plugin_list", {"check": args.check}, show_list
    if v == "install":
        source = args.source
        if Path(source).exists():  # a local wheel or folder: the daemon needs the full path
            source = str(Path(source).resolve())
        return "plugin_install", {"source": source, "who": _who()}, generic
    if v == "update":
        return "plugin_update", {"name": args.name, "who": _who()}, generic
    if v in ("uninstall", "disable"):
        return f"plugin_{v}", {"name": args.name, "stop_instances": args.stop_instances,
                               "who": _who()}, generic
    if v == "enable":
        return "plugin_enable", {"name": args.name, "who": _who()}, generic
    if v == "readme":
        return "plugin_readme", {"name": args.name}, lambda r: r["markdown"]
    return "plugin_job", {"job": args.job}, generic


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
