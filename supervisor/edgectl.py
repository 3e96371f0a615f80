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

from edgeos.ipc import addresses, strictjson
from edgeos.ipc.rpc import BAD_REQUEST, STATUS, UNAVAILABLE, RpcClient, RpcError
from edgeos.supervisor import auth_commands as auth
from edgeos.supervisor import commands as cmds
from edgeos.supervisor import (
    edgectl_discover,
    edgectl_passwd,
    ha_cli,
    plugin_cli,
    satellite_cli,
)
from edgeos.supervisor.cli_args import add_command, rpc_args
from edgeos.supervisor.paths import resolve_run_dir
from edgeos.supervisor.progress import call_with_progress

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class Usage(Exception):
    """Bad command-line usage (exit 2)."""


def parse_value(text: str) -> Any:
    """``set``/``route test`` values: JSON when it parses (42, true, "x", [1]), else text;
    never a non-finite number (NaN, Infinity, 1e999), which no JSON reader accepts."""
    try:
        return strictjson.loads(text)
    except strictjson.NonFiniteError as exc:
        raise Usage(f"value {text!r}: {exc}") from None
    except strictjson.JsonValueError:
        return text


def build_parser() -> argparse.ArgumentParser:
    """The verbs; each one's help and arguments come from the command it sends
    (:mod:`edgeos.supervisor.cli_args`)."""
    p = argparse.ArgumentParser(prog="edgectl", description="Control the edgeos daemon.")
    p.add_argument("--run", help="run dir of the daemon (env EDGEOS_RUN)")
    p.add_argument("--endpoint", help="control endpoint URL of a remote core")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--timeout", type=float, default=40.0, help="seconds to wait for an answer")
    sub = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    add_command(sub, "status", cmds.COMMANDS["status"], ("id",))
    add_command(sub, "list", cmds.List)
    for verb in ("start", "stop", "restart", "kill", "disconnect", "reconnect", "reactivate"):
        add_command(sub, verb, cmds.COMMANDS[verb], ("id",))
    add_command(sub, "panic", cmds.Panic, (), {"--reason": "why"},
                defaults={"why": "panic requested from edgectl"})
    add_command(sub, "recover", cmds.Recover)
    add_command(sub, "reload", cmds.Reload).add_argument(
        "--cancel", action="store_true", help=cmds.ReloadCancel.help())
    lg = add_command(sub, "logs", cmds.Logs, ("id",), {"-n": "n", "--level": "level"},
                     defaults={"n": 50})
    lg.add_argument("-f", "--follow", action="store_true",
                    help="then print new lines as they come (on the daemon's host)")
    v = sub.add_parser("validate", help="check a config dir without applying it")
    v.add_argument("dir", nargs="?", default=None)
    v.add_argument("--data", help="data dir whose plugins/ count as installed (env "
                                  "EDGEOS_DATA, default ./data)")
    r = sub.add_parser("route", help="routing tools")
    rsub = r.add_subparsers(dest="route_verb", required=True)
    add_command(rsub, "test", cmds.RouteTest, ("address", "value"), needed=("value",))
    add_command(sub, "get", cmds.Get, ("address",))
    add_command(sub, "set", cmds.Set, ("address", "value"),
                {"--no-wait": "wait", "--timeout": "wait_s"}, needed=("value",))
    add_command(sub, "errors", cmds.Errors)
    satellite_cli.add_parsers(sub)
    ha_cli.add_parsers(sub)
    pw = add_command(sub, "passwd", auth.Passwd)
    pw.add_argument("--data", help="data dir used when no daemon answers (env EDGEOS_DATA, "
                                   "default ./data; make run uses var/data)")
    tk = sub.add_parser("token", help="API tokens")
    tsub = tk.add_subparsers(dest="token_verb", required=True)
    add_command(tsub, "create", auth.TokenCreate, (), {"--role": "role", "--name": "name"})
    add_command(tsub, "list", auth.TokenList)
    add_command(tsub, "revoke", auth.TokenRevoke, ("name",))
    add_user_parser(sub)
    plugin_cli.add_parser(sub)
    edgectl_discover.add_parser(sub)
    _json_after_verb(p)
    return p


def _json_after_verb(parser: argparse.ArgumentParser) -> None:
    """Accept ``--json`` after the verb too (``edgectl status --json``). SUPPRESS keeps
    a sub-command from resetting a ``--json`` given before the verb."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                child.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                                   help="print one JSON document")
                _json_after_verb(child)


def add_user_parser(sub: Any) -> None:
    """``user add|list|remove|passwd|role``: the admin UI's users (roles admin, operator,
    viewer); passwords are read from the terminal, or a line of stdin."""
    us = sub.add_parser("user", help="admin UI users")
    usub = us.add_subparsers(dest="user_verb", required=True)
    add_command(usub, "add", auth.UserAdd, ("username",), {"--role": "role"})
    add_command(usub, "list", auth.UserList)
    add_command(usub, "remove", auth.UserRemove, ("username",))
    add_command(usub, "passwd", auth.UserUpdate, ("username",))
    add_command(usub, "role", auth.UserUpdate, ("username", "role"), needed=("role",))


def user_request(args: argparse.Namespace) -> tuple[str, dict[str, Any], Callable[[Any], str]]:
    v, who = args.user_verb, f"edgectl:{_user()}"
    if v == "list":
        return "user_list", {}, lambda r: _table(r, [("name", "USER"), ("role", "ROLE")])
    if v == "add":
        return "user_add", {"username": args.username, "role": args.role, "who": who,
                            "password": read_password(f"Password for {args.username}: ")}, \
            show_generic
    if v == "remove":
        return "user_remove", {"username": args.username, "who": who}, show_generic
    if v == "role":
        return "user_update", {"username": args.username, "role": args.role, "who": who}, \
            show_generic
    return "user_update", {"username": args.username, "who": who,
                           "password": read_password(f"New password for {args.username}: ")}, \
        show_generic


# -- human-readable output -------------------------------------------------------------
def _table(rows: list[dict[str, Any]], cols: list[tuple[str, str]]) -> str:
    cells = [[h for _, h in cols]] + [["" if r.get(k) is None else str(r.get(k))
                                       for k, _ in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in cells)


def panic_line(record: dict[str, Any] | None) -> str:
    """``PANIC since 14:02:11 by admin: water in the basement``."""
    if not record:
        return ""
    since = (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record["since"] / 1000))
             if record.get("since") else "?")
    return f"\nPANIC since {since} by {record.get('who') or '?'}: {record.get('why') or '-'}"


def profile_effects_line(effects: dict[str, Any] | None) -> str:
    """`` (polls x2, small queues, SQLite cache 256 KiB, no forkserver)`` on LOW_POWER."""
    if not effects:
        return ""
    parts = [f"polls x{effects['poll_multiplier']:g}", "small queues",
             f"SQLite cache {effects['sqlite_cache_kib']} KiB"]
    if not effects.get("forkserver"):
        parts.append("no forkserver")
    return f" ({', '.join(parts)})"


def show_status(result: dict[str, Any]) -> str:
    head = f"mode: {result['mode']}  profile: {result.get('performance', '-')}"
    head += profile_effects_line(result.get("profile_effects"))
    head += panic_line(result.get("panic"))
    cols = [("id", "ID"), ("type", "TYPE"), ("status", "STATUS"), ("pid", "PID"),
            ("cpu_percent", "CPU%"), ("memory_mb", "RSS MB"), ("pps_in", "IN/s"),
            ("pps_out", "OUT/s"), ("uptime_seconds", "UPTIME"), ("restarts", "RESTARTS"),
            ("error_count", "ERRORS"), ("enforcement", "LIMITS BY"),
            ("last_error", "LAST ERROR")]
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


def show_set(result: dict[str, Any]) -> str:
    """``confirmed``, ``refused: <reason>``, ``timeout`` or ``sent``, then what and how long."""
    outcome = result["outcome"]
    what = f"{result['address']} = {result['value']!r}"
    if outcome == "confirmed":
        reported = result.get("reported", result["value"])
        back = "" if reported == result["value"] else f", device reports {reported!r}"
        routes = result.get("routes_in") or []
        later = f"\nnote: route {', '.join(routes)} writes this datapoint and will " \
            "overwrite the value when it fires" if routes else ""
        return f"confirmed: {what} ({result['seconds']:g} s{back}){later}"
    if outcome == "refused":
        return f"refused: {result['reason']}"
    if outcome == "timeout":
        return f"timeout: {what}: {result['reason']}"
    return f"sent: {what} to {', '.join(result.get('sent_to') or []) or 'nobody'} (not waiting)"


def show_panic(result: dict[str, Any]) -> str:
    if result.get("already"):
        return f"already in {result['mode']} mode"
    out = [f"PANIC: mode {result['mode']} (took {result.get('seconds', 0):g} s)"]
    failsafe = result.get("failsafe") or {}
    if "error" in failsafe:
        out.append(f"  fail-safe values not written: {failsafe['error']}")
    for address, f in sorted(failsafe.items()):
        if isinstance(f, dict):
            state = "acknowledged" if f.get("acked") else "NOT acknowledged"
            out.append(f"  fail-safe {address} = {f.get('value')!r}: {state}")
    if not failsafe:
        out.append("  no fail-safe values configured")
    out.append("leave it with: edgectl recover")
    return "\n".join(out)


def show_recover(result: dict[str, Any]) -> str:
    if result.get("already"):
        return f"not in panic (mode {result['mode']})"
    started = ", ".join(sorted(result.get("started") or [])) or "none"
    return f"recovered: mode {result['mode']}; workers started: {started}"


def show_reload(result: dict[str, Any]) -> str:
    def names(key: str) -> str:
        return ", ".join(sorted(result.get(key) or [])) or "none"

    out = [f"instances started: {names('added')}; stopped: {names('removed')}; "
           f"restarted: {names('changed')}; unchanged: {len(result.get('unchanged') or [])}"]
    routes = result.get("routes")
    if isinstance(routes, dict):
        out.append(f"routes added: {', '.join(routes['added']) or 'none'}; removed: "
                   f"{', '.join(routes['removed']) or 'none'}; changed: "
                   f"{', '.join(routes['changed']) or 'none'}; total: {routes['total']}")
        out += [f"  warning: {w}" for w in routes.get("warnings") or []]
    elif routes is not None:
        out.append(f"routes: {routes}")
    return "\n".join(out)


def _local(ts_ms: Any) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts_ms / 1000)) if ts_ms else "-"


def show_errors(rows: list[dict[str, Any]]) -> str:
    """One block per error: local time, instance, how often; message; stack trace."""
    if not rows:
        return "no errors recorded"
    out = []
    for e in rows:
        times = f" (x{e['count']}, first {_local(e['ts'])})" if e.get("count", 1) > 1 else ""
        fatal = " FATAL" if e.get("fatal") else ""
        out.append(f"{_local(e.get('last_ts') or e['ts'])}  {e['instance']} "
                   f"[{e.get('type') or '-'}]{fatal}{times}")
        out.append(f"  {e['message']}")
        out += [f"    {line}" for line in (e.get("traceback") or "").rstrip().splitlines()]
        out.append("")
    return "\n".join(out).rstrip()


def show_token(result: Any) -> str:
    if isinstance(result, list):
        return _table([{**t, "created": _local(t.get("created"))} for t in result],
                      [("name", "NAME"), ("role", "ROLE"), ("created", "CREATED"),
                       ("hint", "HINT")]) if result else "no tokens"
    if result.get("revoked"):
        return f"token {result['name']} revoked"
    return (f"token {result['name']} (role {result['role']}), shown only this once:\n"
            f"{result['token']}")


def show_passwd(result: dict[str, Any]) -> str:
    return f"password of {result['user']} set; open sessions of that user end"


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
    from edgeos.ipc.routing import RoutingError, check_routes
    from edgeos.supervisor import config as cfgmod

    errors: list[str] = []
    warnings: list[str] = []
    ids: list[str] | None = []
    try:
        settings = cfgmod.load_settings(directory)
        ids = [c.id for c in cfgmod.load_connections(directory, settings)]
    except cfgmod.ConfigError as exc:
        errors += exc.errors
        # Check the routes against the instances the file names, so one bad field
        # there is reported once, not again as an unknown instance in every route.
        ids = named_ids(directory / cfgmod.CONNECTIONS)
    if ids is None:
        warnings.append(f"{cfgmod.ROUTING} not checked: {cfgmod.CONNECTIONS} cannot be read")
    else:
        try:
            table = check_routes(directory / cfgmod.ROUTING, ids)
            warnings += table.warnings
        except RoutingError as exc:
            errors += exc.errors
    return {"dir": str(directory), "valid": not errors, "errors": errors,
            "warnings": warnings, "instances": ids}


def named_ids(path: Path) -> list[str] | None:
    """The instance ids a connections file names, valid or not; None if unreadable."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        return None
    entries = doc.get("connections") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        return None
    return [e["id"] for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)]


def config_dir_to_validate(args: argparse.Namespace) -> Path:
    """The dir given; else the running daemon's config dir; else EDGEOS_CONFIG or
    ./config. A dir that does not exist is bad usage."""
    if args.dir:
        directory = Path(args.dir).resolve()
    else:
        directory = Path(os.environ.get("EDGEOS_CONFIG") or "config").resolve()
        run_dir = resolve_run_dir(args.run)
        if addresses.socket_path(run_dir, addresses.CONTROL).exists():
            client = RpcClient(addresses.endpoint(run_dir, addresses.CONTROL), timeout=3.0)
            try:
                directory = Path(client.call("system")["config_dir"])
            except (RpcError, KeyError, TypeError):
                pass  # no daemon answering there, or an older one: the fallback stands
            finally:
                client.close()
    if not directory.is_dir():
        raise Usage(f"no config dir {directory}" if not directory.exists()
                    else f"{directory} is not a directory")
    return directory


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
        return "panic", {"who": f"edgectl:{_user()}", "why": args.why}, show_panic
    if v == "recover":
        return "recover", {"who": f"edgectl:{_user()}"}, show_recover
    if v in satellite_cli.VERBS:
        return satellite_cli.request(args)
    if v in ha_cli.VERBS:
        return ha_cli.request(args)
    if v == "reload" and args.cancel:
        return "reload_cancel", {}, show_generic
    if v == "reload":
        return "reload", {}, show_reload
    if v == "errors":
        return "errors", {}, show_errors
    if v == "logs":
        return "logs", {"id": args.id, "n": args.n, "level": args.level}, show_logs
    if v == "route":
        return ("route_test", {"address": args.address, "value": parse_value(args.value)},
                show_route_test)
    if v == "get":
        return "get", {"address": args.address}, lambda r: f"{r['address']} = {r['value']!r} " \
            f"({r['quality']}, ack={str(r['ack']).lower()}, ts={r['ts']})"
    if v == "set":
        if not 0 < args.wait_s <= 300:
            raise Usage(f"--timeout must be between 0 and 300 s, not {args.wait_s:g}")
        return "set", {**rpc_args(args), "value": parse_value(args.value)}, show_set
    if v == "passwd":
        return "passwd", {"password": read_password()}, show_passwd
    if v == "user":
        return user_request(args)
    if v == "token":
        return args.command, rpc_args(args), show_token
    if v == "plugin":
        return plugin_cli.request(args)
    raise Usage(f"unknown verb {v!r}")


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def read_password(prompt: str = "New admin password: ") -> str:
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass(prompt)
        if first != getpass.getpass("Repeat: "):
            raise Usage("passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def follow_logs(args: argparse.Namespace, run_dir: Path) -> int:
    """Print new log lines of one instance as they arrive (events feed).

    It waits on the feed and on a signal wake-up socket together: a Ctrl-C that comes
    just before a blocking receive starts would otherwise wait for the next log line,
    which for a quiet instance may never come (a fresh-clone run hung so)."""
    import signal
    import socket

    import zmq
    from edgeos.ipc.protocol import unpack

    ctx = zmq.Context()
    woken, wake = socket.socketpair()
    woken.setblocking(False)
    wake.setblocking(False)
    before = signal.set_wakeup_fd(wake.fileno())
    try:  # Ctrl-C may come at any point here: destroy() closes whatever socket exists
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.connect(addresses.endpoint(run_dir, addresses.EVENTS))
        sub.setsockopt(zmq.SUBSCRIBE, f"log.{args.id}".encode())
        poller = zmq.Poller()
        poller.register(sub, zmq.POLLIN)
        poller.register(woken, zmq.POLLIN)
        while True:
            ready = dict(poller.poll())  # a signal's handler runs as this returns
            if woken in ready:
                woken.recv(64)  # (a signal that raised nothing: SIGWINCH, ...)
            while sub in ready:
                try:
                    topic, body = sub.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                if topic.decode() == f"log.{args.id}":
                    print(format_log(unpack(body)), flush=True)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        signal.set_wakeup_fd(before)
        woken.close()
        wake.close()
        ctx.destroy(linger=0)


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
        plugin_cli.use_plugins(args.data)
        try:
            result = validate_dir(config_dir_to_validate(args))
        except Usage as exc:
            print(f"edgectl: {exc}", file=sys.stderr)
            return EXIT_USAGE
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
    control = addresses.socket_path(run_dir, addresses.CONTROL)
    if args.verb == "passwd" and not args.endpoint and not edgectl_passwd.listening(control):
        try:  # the lost password's way back: no daemon answers, the file way
            password = read_password()
        except Usage as exc:
            print(f"edgectl: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return edgectl_passwd.offline(args, password, f"no daemon answers in {run_dir}")
    if not args.endpoint and not control.exists():
        return _unreachable(args, f"no daemon control socket in {run_dir}")
    if not args.endpoint and not edgectl_passwd.listening(control):  # not a 40 s wait
        return _unreachable(args, f"no daemon listens on {control} (left by one that is gone)")
    try:
        # discover follows a job with calls of its own (edgectl_discover.run)
        cmd, rpc_args, fmt = request(args) if args.verb != "discover" else ("", {}, str)
    except Usage as exc:
        print(f"edgectl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # set waits for the device: the answer may take that long, plus a margin
    args.timeout = max(args.timeout, args.wait_s + 10) if args.verb == "set" \
        else args.timeout
    try:
        client = satellite_cli.remote_client(args) if args.endpoint \
            else RpcClient(endpoint, timeout=args.timeout)
    except ValueError as exc:
        print(f"edgectl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RpcError as exc:
        return _unreachable(args, str(exc))
    try:
        if args.verb == "discover":
            return edgectl_discover.run(args, client)
        if args.verb == "logs" and args.follow:
            try:  # Ctrl-C is how following ends, whenever it comes
                emit(client.call(cmd, **rpc_args), fmt)
                sys.stdout.flush()
                return follow_logs(args, run_dir)
            except KeyboardInterrupt:
                return EXIT_OK
        if plugin_cli.follows(args):
            return plugin_cli.follow(client, client.call(cmd, **rpc_args), args.json)
        if cmd == "reload" and not args.endpoint:  # long reloads: no time-out while busy
            emit(call_with_progress(endpoint, addresses.endpoint(run_dir, addresses.EVENTS),
                                    cmd, rpc_args, args.timeout), fmt)
            return EXIT_OK
        result = client.call(cmd, **rpc_args)
        emit(result, fmt)
        if args.verb == "set" and result.get("outcome") in ("refused", "timeout"):
            return EXIT_REFUSED
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
            else STATUS.get(exc.code, (500, EXIT_REFUSED))[1]
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
