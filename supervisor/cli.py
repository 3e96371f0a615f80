"""``edgeos``: the daemon (CONTRACT section 2)."""

from __future__ import annotations

# isort: off
from edgeos.supervisor import lean_asyncio  # noqa: F401  (before anything imports asyncio)
# isort: on
import argparse
import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from edgeos.common import schemas
from edgeos.common.files import atomic_write_json
from edgeos.supervisor import (
    datadir,
    errors,
    ha_setup,
    low_power,
    malloc_tuning,
    performance,
    route_check,
    satellite_setup,
    sdnotify,
)
from edgeos.supervisor.arbiter import Arbiter
from edgeos.supervisor.config import CONNECTIONS, ROUTING, ConfigError
from edgeos.supervisor.controller import Controller
from edgeos.supervisor.modefile import StateUnreadable
from edgeos.supervisor.parts import Parts
from edgeos.supervisor.paths import Paths
from edgeos.supervisor.seam import AsyncioSystem
from edgeos.supervisor.validator_process import ValidatorProcess
from edgeos.workers import registry

log = logging.getLogger("edgeos")


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, given the terminal's width as ``shutil.get_terminal_size``
    finds it: argparse's own default imports ``shutil`` (with bz2 and lzma, ~0.5 MB of
    RSS the daemon would keep for good, issue 16) as soon as an argument is added."""

    def __init__(self, prog: str) -> None:
        try:
            width = int(os.environ["COLUMNS"])
        except (KeyError, ValueError):
            width = 0
        if width <= 0:
            try:
                width = os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
            except (AttributeError, ValueError, OSError):
                width = 80
        super().__init__(prog, width=width - 2)  # argparse's margin


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="edgeos", description="SmartHome Edge OS daemon",
                                formatter_class=HelpFormatter)
    p.add_argument("--config", help="config dir (env EDGEOS_CONFIG, default ./config)")
    p.add_argument("--data", help="data dir (env EDGEOS_DATA, default ./data)")
    p.add_argument("--run", help="run dir for sockets (env EDGEOS_RUN)")
    p.add_argument("--demo", action="store_true",
                   help="seed an empty config dir with the simulated demo plant")
    p.add_argument("--headless", action="store_true", help="no admin UI, no web port")
    p.add_argument("--satellite", action="store_true", help="run as a satellite of a core")
    p.add_argument("--core-host")
    p.add_argument("--core-port", type=int, default=50051)
    p.add_argument("--satellite-id")
    satellite_setup.add_arguments(p)
    ha_setup.add_arguments(p)
    p.add_argument("--performance", help="LOW_POWER, BALANCED or HIGH_PERFORMANCE")
    low_power.add_arguments(p)
    p.add_argument("--web-port", type=int, default=8080)
    p.add_argument("--web-host", default="127.0.0.1")
    p.add_argument("--web-certfile", help="PEM certificate (chain): serve the UI over HTTPS")
    p.add_argument("--web-keyfile", help="PEM private key, if not in --web-certfile")
    p.add_argument("--log-level", default=os.environ.get("EDGEOS_LOG_LEVEL", "INFO"))
    return p.parse_args(argv)


def web_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Where the admin UI listens and, with a certificate, its TLS files (checked here,
    so a wrong path or key stops the daemon with a clear message instead of the UI
    crash-looping). ValueError names the flag and the file."""
    web: dict[str, Any] = {"host": args.web_host, "port": args.web_port}
    if args.web_keyfile and not args.web_certfile:
        raise ValueError("--web-keyfile needs --web-certfile")
    if args.web_certfile:
        cert = str(Path(args.web_certfile).resolve())
        key = str(Path(args.web_keyfile).resolve()) if args.web_keyfile else None
        import ssl  # only here: the supervisor runs without it otherwise (lean_asyncio)

        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            flag = "--web-certfile" if key is None else "--web-certfile/--web-keyfile"
            raise ValueError(f"{flag} {cert}{'' if key is None else ' ' + key}: cannot load "
                             f"the certificate and key: {exc}") from None
        web.update(certfile=cert, keyfile=key)
    return web


def check_web_port(web: dict[str, Any]) -> None:
    """Bind the admin UI's address once and let go, so a busy port stops the daemon
    at start with a clear message instead of the UI crash-looping behind an
    "edgeos running". ValueError names the address and the flag."""
    host, port = web["host"], web["port"]
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
        for family, kind, proto, _, addr in infos:
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Tornado
                probe.bind(addr)
    except OSError as exc:
        raise ValueError(f"cannot listen on {host or '*'}:{port} for the admin UI: "
                         f"{exc.strerror or exc}; choose another port with --web-port "
                         "(make run PORT=8081) or another address with --web-host") from None


def seed_demo(paths: Paths) -> None:
    """Copy the built-in demo config into an empty config dir (never over user files)."""
    if (paths.config / CONNECTIONS).exists():
        return
    from importlib import resources  # only here: ~0.6 MB (tempfile, shutil, lzma) otherwise

    demo = resources.files("edgeos.config").joinpath("demo")
    for name in (CONNECTIONS, ROUTING):
        target = paths.config / name
        if not target.exists():
            atomic_write_json(target, json.loads(demo.joinpath(name).read_text("utf-8")))
    log.info("demo config written to %s", paths.config)


def take_lock(paths: Paths) -> int:
    """One daemon per run dir: hold an exclusive lock for our lifetime."""
    fd = os.open(paths.run / "edgeos.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(f"edgeos: another daemon is running on {paths.run}") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


async def serve(args: argparse.Namespace, paths: Paths, profile: str,
                web: dict[str, Any], links: dict[str, dict[str, Any]],
                ha: Any = None) -> int:
    loop = asyncio.get_running_loop()
    system = AsyncioSystem(loop)
    arbiter = Arbiter(paths, system, Parts.production(paths, system), headless=args.headless,
                      web=web,
                      performance=profile)
    arbiter.links = links
    arbiter.ha = ha
    try:
        arbiter.load_mode()
    except StateUnreadable as exc:
        print(f"edgeos: {exc}", file=sys.stderr)
        return 1
    try:
        configs = arbiter.load()
    except ConfigError as exc:
        for line in exc.errors:
            print(f"edgeos: {line}", file=sys.stderr)
        return 1
    arbiter.bind()
    if not args.headless:
        announce_first_password(paths)
    controller = Controller(arbiter)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    arbiter.watch_channel()
    tasks = [asyncio.create_task(controller.server.serve()),
             asyncio.create_task(arbiter.sample_loop()),
             asyncio.create_task(arbiter.ram_loop())]
    try:
        starting = asyncio.create_task(arbiter.start(configs))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()
            sdnotify.notify("READY=1")
            log.info("edgeos running: config %s, data %s, run %s, profile %s",
                     paths.config, paths.data, paths.run, profile)
            interval = sdnotify.watchdog_interval()
            if interval:
                tasks.append(asyncio.create_task(_watchdog(interval)))
        else:
            starting.cancel()
        await stopped
        log.info("stopping")
        sdnotify.notify("STOPPING=1")
        await arbiter.shutdown()
    finally:
        for task in tasks:
            task.cancel()
        system.reap_all()
        controller.close()
        arbiter.close()
    return 0


def announce_first_password(paths: Paths) -> None:
    """On the very first start, generate the admin password and show it once, here on
    the daemon's own terminal/journal (it is stored only as a salted scrypt hash)."""
    from edgeos.common.auth import ADMIN_USER, AuthStore

    password = AuthStore(paths.data).ensure_admin_password()
    if password is not None:
        print(f"edgeos: FIRST START: admin password for user {ADMIN_USER!r} is: {password}  "
              "(shown once; change it with 'edgectl passwd')", file=sys.stderr, flush=True)


async def _watchdog(interval: float) -> None:
    while True:
        sdnotify.notify("WATCHDOG=1")
        await asyncio.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    malloc_tuning.tune()  # before ZeroMQ starts its threads (issue 16, RSS)
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        profile = performance.choose(low_power.profile_arg(args))
        low_power.apply(args, profile)
        web = web_settings(args)
    except ValueError as exc:
        print(f"edgeos: {exc}", file=sys.stderr)
        return 2
    paths = Paths.resolve(args.config, args.data, args.run)
    datadir.restrict_umask()
    paths.prepare()
    try:
        low_power.configure(paths.config)
        links = satellite_setup.link_roles(args, paths.data, paths.config)
        ha = ha_setup.load_state(args, paths.data)
        links.update(ha_setup.link_roles(ha, paths.data, paths.config, args.satellite_listen))
    except ValueError as exc:
        print(f"edgeos: {exc}", file=sys.stderr)
        return 2
    lock_fd = take_lock(paths)
    data_lock_fd = datadir.lock(paths.data)
    datadir.secure(paths.data)
    if not args.headless:
        try:
            check_web_port(web)
        except ValueError as exc:
            print(f"edgeos: {exc}", file=sys.stderr)
            os.close(lock_fd)
            return 2
    from edgeos.supervisor import zygote

    zygote.start(["broker", *links, *(["historian"] if low_power.history_default(profile)
                                      else [])])  # before any thread: supervisor/zygote.py
    from edgeos.ipc.child import set_title

    set_title("edgeos: supervisor")
    if args.demo:
        seed_demo(paths)
    validator = ValidatorProcess()  # jsonschema and importlib.metadata run there (issue 16)
    validator.start()
    schemas.validate_elsewhere(validator)
    registry.scan_elsewhere(validator.worker_types)
    route_check.check_elsewhere(validator.routes)  # the route commands' check too
    schemas.check_schemas_elsewhere(validator.schema_problem)  # a plugin's config schema
    errors.check_elsewhere(validator.newest_error)  # sqlite3 only once needed (errors.py)
    try:
        problem = validator.node_keys(paths.data)  # zmq.auth stays there (satellite_setup)
        if problem is not None:
            print(f"edgeos: {problem}", file=sys.stderr)
            return 2
        return asyncio.run(serve(args, paths, profile, web, links, ha))
    finally:
        validator.close()
        with contextlib.suppress(OSError):
            os.close(lock_fd)
        with contextlib.suppress(OSError):
            os.close(data_lock_fd)


if __name__ == "__main__":
    sys.exit(main())
