"""``edgectl``: control a running edgeos daemon (CONTRACT section 6).

Exit codes: 0 success, 1 refused request, 2 bad usage, 3 daemon unreachable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeos.ipc import addresses
from edgeos.ipc.rpc import BAD_REQUEST, UNAVAILABLE, RpcClient, RpcError
from edgeos.supervisor import satellite_cli
from edgeos.supervisor.paths import resolve_run_dir

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class Usage(Exception):
    """Bad command-line usage (exit 2)."""


def parse_value(text: str) -> Any:
    """``set``/``route test`` values: JSON when it parses (42, true, "x", [1]), else text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edgectl", description="Control the edgeos daemon.")
    p.add_argument("--run", help="run dir of the daemon (env EDGEOS_RUN)")
    p.add_argument("--endpoint", help="control endpoint URL of a remote core")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--timeout", type=float, default=40.0, help="seconds to wait for an answer")
    sub = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    s = sub.add_parser("status", help="state and live figures of the instances")
    s.add_argument("id", nargs="?")
    sub.add_parser("list", help="the instances, one line each")
    for verb, text in (("start", "start an instance"), ("stop", "stop an instance"),
                       ("restart", "restart an instance"),
                       ("kill", "SIGKILL an instance's process tree (it restarts)"),
                       ("disconnect", "cut an instance from the router"),
                       ("reconnect", "put an instance back on the router"),
                       ("reactivate", "bring back an instance suspended by the spam guard")):
        sub.add_parser(verb, help=text).add_argument("id")
    pn = sub.add_parser("panic", help="fail-safe values, then stop every device worker")
    pn.add_argument("--reason", default="panic requested from edgectl")
    sub.add_parser("recover", help="leave panic mode")
    sub.add_parser("reload", help="apply changed config files")
    lg = sub.add_parser("logs", help="an instance's log lines")
    lg.add_argument("id")
    lg.add_argument("-f", "--follow", action="store_true")
    lg.add_argument("-n", type=int, default=50)
    lg.add_argument("--level")
    v = sub.add_parser("validate", help="check a config dir without applying it")
    v.add_argument("dir", nargs="?", default=None)
    r = sub.add_parser("route", help="routing tools")
    rsub = r.add_subparsers(dest="route_verb", required=True)
    rt = rsub.add_parser("test", help="dry run: which routes fire and what targets get")
    rt.add_argument("address")
    rt.add_argument("value")
    g = sub.add_parser("get", help="last value of a datapoint")
    g.add_argument("address")
    st = sub.add_parser("set", help="send a command to a datapoint")
    st.add_argument("address")
    st.add_argument("value")
    sub.add_parser("errors", help="recent uncaught errors with stack traces")
    satellite_cli.add_parsers(sub)
    sub.add_parser("passwd", help="set the admin password")
    tk = sub.add_parser("token", help="API tokens")
    tsub = tk.add_subparsers(dest="token_verb", required=True)
    tc = tsub.add_parser("create")
    tc.add_argument("--role", choices=("admin", "viewer"), default="admin")
    tc.add_argument("--name")
    tsub.add_parser("list")
    tr = tsub.add_parser("revoke")
    tr.add_argument("name")
    return p


# -- human-readable output -------------------------------------------------------------
def _table(rows: list[dict[str, Any]], cols: list[tuple[str, str]]) -> str:
    cells = [[h for _, h in cols]] + [["" if r.get(k) is None else str(r.get(k))
                                       for k, _ in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in cells)


def show_status(result: dict[str, Any]) -> str:
    head = f"mode: {result['mode']}  profile: {result.get('performance', '-')}"
    cols = [("id", "ID"), ("type", "TYPE"), ("status", "STATUS"), ("pid", "PID"),
            ("cpu_percent", "CPU%"), ("memory_mb", "RSS MB"), ("pps_in", "IN/s"),
            ("pps_out", "OUT/s"), ("uptime_seconds", "UPTIME"), ("restarts", "RESTARTS"),
            ("error_count", "ERRORS"), ("last_error", "LAST ERROR")]
    return head + "\n" + _table(result["instances"], cols)


def show_generic(result: Any) -> str:
    if isinstance(result, dict) and "status" in result and "id" in result:
        return f"{result['id']}: {result['status']} (pid {result.get('pid') or '-'})"
    return json.dumps(result, indent=2, ensure_ascii=False, default=str)


def show_logs(lines: list[dict[str, Any]]) -> str:
    return "\n".join(format_log(e) for e in lines)


def format_log(e: dict[str, Any]) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(e["ts"] / 1000))
    return f"{stamp} {e['instance']} {e['level']:<7} {e['line']}"


def show_route_test(result: dict[str, Any]) -> str:
    out = [f"{result['address']} = {result['value']!r}"]
    for r in result["routes"]:
        mark = "fires" if r.get("fired") else f"does not fire: {r.get('reason')}"
        out.append(f"  route {r['route']}: {mark}")
        for step in r.get("steps", []):
            out.append(f"    {step.get('transform')}: {step.get('value')!r}")
        for d in r.get("deliveries", []):
            out.append(f"    -> {d['target']} = {d['value']!r}")
    if not result["routes"]:
        out.append("  no route matches")
    return "\n".join(out)


# -- verbs -----------------------------------------------------------------------------
def validate_dir(directory: Path) -> dict[str, Any]:
    """Check a config dir locally, exactly as the daemon would at start or reload."""
    from edgeos.ipc.routing import RoutingError, load_routing_file
    from edgeos.supervisor import config as cfgmod

    errors: list[str] = []
    warnings: list[str] = []
    ids: list[str] = []
    try:
        settings = cfgmod.load_settings(directory)
        ids = [c.id for c in cfgmod.load_connections(directory, settings)]
    except cfgmod.ConfigError as exc:
        errors += exc.errors
    try:
        table = load_routing_file(directory / cfgmod.ROUTING, instance_ids=[*ids, "log"])
        warnings += table.warnings
    except RoutingError as exc:
        errors += exc.errors
    return {"dir": str(directory), "valid": not errors, "errors": errors,
            "warnings": warnings, "instances": ids}


def request(args: argparse.Namespace) -> tuple[str, dict[str, Any], Callable[[Any], str]]:
    """Map the parsed command line to (rpc command, arguments, formatter)."""
    v = args.verb
    if v == "status":
        return "status", ({"id": args.id} if args.id else {}), show_status
    if v == "list":
        return "list", {}, lambda r: _table(r, [("id", "ID"), ("type", "TYPE"),
                                                 ("status", "STATUS"), ("pid", "PID")])
    if v in ("start", "stop", "restart", "kill", "disconnect", "reconnect", "reactivate"):
        return v, {"id": args.id}, show_generic
    if v == "panic":
        return "panic", {"who": f"edgectl:{_user()}", "why": args.reason}, show_generic
    if v == "recover":
        return "recover", {"who": f"edgectl:{_user()}"}, show_generic
    if v in satellite_cli.VERBS:
        return satellite_cli.request(args)
    if v in ("reload", "errors"):
        return v, {}, show_generic
    if v == "logs":
        return "logs", {"id": args.id, "n": args.n, "level": args.level}, show_logs
    if v == "route":
        return ("route_test", {"address": args.address, "value": parse_value(args.value)},
                show_route_test)
    if v == "get":
        return "get", {"address": args.address}, lambda r: f"{r['address']} = {r['value']!r} " \
            f"({r['quality']}, ack={str(r['ack']).lower()}, ts={r['ts']})"
    if v == "set":
        return "set", {"address": args.address, "value": parse_value(args.value)}, show_generic
    if v == "passwd":
        return "passwd", {"password": read_password()}, show_generic
    if v == "token":
        if args.token_verb == "create":
            return "token_create", {"role": args.role, "name": args.name}, show_generic
        if args.token_verb == "list":
            return "token_list", {}, show_generic
        return "token_revoke", {"name": args.name}, show_generic
    raise Usage(f"unknown verb {v!r}")


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def read_password() -> str:
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("New admin password: ")
        if first != getpass.getpass("Repeat: "):
            raise Usage("passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def follow_logs(args: argparse.Namespace, run_dir: Path) -> int:
    """Print new log lines of one instance as they arrive (events feed)."""
    import zmq
    from edgeos.ipc.protocol import unpack

    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(addresses.endpoint(run_dir, addresses.EVENTS))
    sub.setsockopt(zmq.SUBSCRIBE, f"log.{args.id}".encode())
    try:
        while True:
            topic, body = sub.recv_multipart()
            if topic.decode() == f"log.{args.id}":
                print(format_log(unpack(body)), flush=True)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        sub.close()
        ctx.term()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    emit: Callable[[Any, Callable[[Any], str]], None] = (
        (lambda r, fmt: print(json.dumps(r, ensure_ascii=False, default=str)))
        if args.json else (lambda r, fmt: print(fmt(r))))
    if args.verb == "validate":
        result = validate_dir(Path(args.dir or os.environ.get("EDGEOS_CONFIG") or "config")
                              .resolve())
        if args.json:
            print(json.dumps(result))
        else:
            print(f"{result['dir']}: {'valid' if result['valid'] else 'INVALID'}")
            for line in result["errors"]:
                print(f"  error: {line}")
            for line in result["warnings"]:
                print(f"  warning: {line}")
        return EXIT_OK if result["valid"] else EXIT_REFUSED
    if args.verb == "client-key":
        key = satellite_cli.client_key()
        print(json.dumps({"key": key}) if args.json else key)
        return EXIT_OK
    run_dir = resolve_run_dir(args.run)
    endpoint = args.endpoint or addresses.endpoint(run_dir, addresses.CONTROL)
    if not args.endpoint and not addresses.socket_path(run_dir, addresses.CONTROL).exists():
        return _unreachable(args, f"no daemon control socket in {run_dir}")
    try:
        cmd, rpc_args, fmt = request(args)
    except Usage as exc:
        print(f"edgectl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        client = satellite_cli.remote_client(args) if args.endpoint \
            else RpcClient(endpoint, timeout=args.timeout)
    except ValueError as exc:
        print(f"edgectl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RpcError as exc:
        return _unreachable(args, str(exc))
    try:
        if args.verb == "logs" and args.follow:
            emit(client.call(cmd, **rpc_args), fmt)
            sys.stdout.flush()
            return follow_logs(args, run_dir)
        emit(client.call(cmd, **rpc_args), fmt)
        return EXIT_OK
    except RpcError as exc:
        if exc.code == UNAVAILABLE and "no answer" in str(exc):
            return _unreachable(args, str(exc))
        if args.json:
            print(json.dumps({"error": str(exc), "code": exc.code, "detail": exc.detail}))
        else:
            print(f"edgectl: {exc}", file=sys.stderr)
            if isinstance(exc.detail, list):
                for line in exc.detail:
                    print(f"  {line}", file=sys.stderr)
        return EXIT_USAGE if exc.code == BAD_REQUEST and "malformed" in str(exc) \
            else EXIT_REFUSED
    finally:
        client.close()


def _unreachable(args: argparse.Namespace, why: str) -> int:
    if args.json:
        print(json.dumps({"error": f"daemon unreachable: {why}", "code": "unreachable"}))
    else:
        print(f"edgectl: daemon unreachable: {why}", file=sys.stderr)
    return EXIT_UNREACHABLE


if __name__ == "__main__":
    sys.exit(main())
