"""Where the chaos faults run: a fresh dir per fault, one shared plant for the faults
that leave it normal (so the suite stays fast), one shared core + satellite pair, and
just enough of systemd to restart the daemon and to act on its watchdog.

Every address is on 127.0.20.x, every port in 48000-48999; only processes these
objects started are ended, by pid.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.integration.admin_ui.web import Web
from tests.integration.daemon import Daemon, sim
from tests.integration.mqtt.mosquitto import Mosquitto
from tests.integration.support import wait_until

HOST = "127.0.20.1"
PORTS = range(48000, 49000)
PASSWORD = "correct horse battery"
SETTINGS = {"limits": {"heartbeat_s": 1}, "restart": {"base_s": 0.2}}
PLANT = [sim("plc_1", "plc", rate_hz=5), sim("bms_1", "bms", rate_hz=5)]
ROUTES = [{"id": "v2sp", "from": "bms_1.voltage", "to": "plc_1.MAIN.setpoint",
           "transform": "scale(0.5)"}]
WATCHDOG_S = 2.0  # WatchdogSec of the emulated unit (systemd/edgeos.service has 30)
ABORT_S = 2.0  # TimeoutAbortSec: SIGABRT first, SIGKILL after this


def free_port(host: str = HOST) -> int:
    """A free TCP port in our range on ``host`` (parallel helpers pick at random)."""
    for port in random.sample(PORTS, len(PORTS)):
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS} on {host}")


class Systemd:
    """A real ``NOTIFY_SOCKET`` listener (READY=1, WATCHDOG=1) and what systemd does when
    the watchdog lapses: SIGABRT (``WatchdogSignal``), SIGKILL after ``TimeoutAbortSec``;
    ``Restart=always`` is :func:`restart`."""

    def __init__(self, watchdog_s: float = WATCHDOG_S) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sd-"))
        self.path = self.dir / "notify"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        os.chmod(self.path, 0o600)
        self.sock.settimeout(0.2)
        self.watchdog_s = watchdog_s
        self.last_ping: float | None = None
        self.pings = 0
        self.ready = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def env(self) -> dict[str, str]:
        return {"NOTIFY_SOCKET": str(self.path),
                "WATCHDOG_USEC": str(int(self.watchdog_s * 1_000_000))}

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            for line in data.decode(errors="replace").splitlines():
                if line == "WATCHDOG=1":
                    self.last_ping, self.pings = time.monotonic(), self.pings + 1
                elif line == "READY=1":
                    self.ready += 1

    def lapsed(self) -> bool:
        return self.last_ping is not None and \
            time.monotonic() - self.last_ping > self.watchdog_s

    def enforce(self, pid: int, limit_s: float) -> None:
        """Wait for the watchdog to lapse, then end ``pid`` as systemd would."""
        wait_until(self.lapsed, limit_s, "watchdog lapse", 0.05)
        os.kill(pid, signal.SIGABRT)
        with contextlib.suppress(AssertionError):
            wait_until(lambda: not _alive(pid), ABORT_S, "exit after SIGABRT", 0.05)
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def restart(d: Daemon) -> None:
    """What systemd does after the daemon died (``Restart=always``)."""
    if d.proc is not None:
        d.proc.wait(10)
    d.log.close()
    d._client = None
    d.start(wait=False)


class ChaosMosquitto(Mosquitto):
    """The MQTT tests' mosquitto, on 127.0.20.1 and a port of our range."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.port = free_port()

    def _write_conf(self) -> None:
        super()._write_conf()
        self.conf.write_text(self.conf.read_text().replace(
            f"listener {self.port} 127.0.0.1", f"listener {self.port} {HOST}"))

    def _listening(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"mosquitto exited: {(self.root / 'mosquitto.log').read_text()}")
        with socket.socket() as s:
            return s.connect_ex((HOST, self.port)) == 0


class Shared:
    """The shared plant: two simulators with a route, an MQTT bridge to a real mosquitto,
    a webhook worker with a queue on disk, the historian, the admin UI on 127.0.20.1, and
    the emulated systemd around the daemon."""

    def __init__(self, root: Path) -> None:
        self.mqtt = ChaosMosquitto(root / "mosquitto").start()
        self.systemd = Systemd()
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        bridge = {"id": "bridge", "type": "mqtt_bridge", "config": {
            "host": HOST, "port": self.mqtt.port, "reconnect_min_s": 0.2,
            "reconnect_max_s": 1, "discovery_jitter_s": 0.3}}
        hook = {"id": "hook", "type": "webhook",
                "config": {"url": f"http://{HOST}:{free_port()}/x", "retries": 0}}
        self.d = Daemon(root / "plant", [*PLANT, bridge, hook], ROUTES, SETTINGS,
                        headless=False, env=self.systemd.env(),
                        extra_args=["--web-host", HOST, "--web-port", str(self.port)])

    def start(self) -> Shared:
        self.d.start(timeout=90)  # the first start imports every worker type
        self.d.wait_for(lambda: self.web().get("/health").status == 200, 30, "admin UI")
        done = self.d.ctl("passwd", input=PASSWORD + "\n")
        assert done.returncode == 0, done.stderr
        self.d.wait_for(lambda: self.d.instance("bridge")["bus"].get("connected"), 30,
                        "bridge connected")
        return self

    def web(self, token: str | None = None) -> Web:
        return Web(self.base, token=token)

    def admin(self) -> Web:
        web = self.web()
        assert web.login(PASSWORD).status == 200
        return web

    def close(self) -> None:
        try:
            self.d.cleanup()
        finally:
            self.mqtt.stop()
            self.systemd.close()


class Pair:
    """A core (satellite-gateway listening on 127.0.20.1) and a satellite (its uplink,
    one simulator), trusted, values flowing."""

    def __init__(self, root: Path) -> None:
        self.listen = f"{HOST}:{free_port()}"
        self.core = Daemon(root / "core", [], settings=SETTINGS,
                           extra_args=["--satellite-listen", self.listen])
        self.sat: Daemon | None = None

    def start(self) -> Pair:
        self.core.start(timeout=90)
        key = self.core.ctl_json("node-key")["key"]
        self.sat = Daemon(self.core.root.parent / "sat", [sim("s1", rate_hz=5)],
                          settings=SETTINGS, extra_args=[
                              "--satellite", "--satellite-id", "sat1", "--core-host",
                              self.listen, f"--core-key={key}"]).start(timeout=90)
        sat_key = self.sat.ctl_json("node-key")["key"]
        done = self.core.ctl("satellites", "trust", "--id", "sat1", "--", sat_key)
        assert done.returncode == 0, done.stderr
        return self

    def linked(self, since_ms: int) -> bool:
        """Connected, and fresh values of the satellite's device at the core."""
        rows = [r for r in self.core.ctl_json("satellites") if r["id"] == "sat1"]
        if not rows or rows[0]["state"] != "connected":
            return False
        points = self.core.call("datapoints", prefix="sat1.", limit=1000)["datapoints"]
        return any(p["address"].startswith("sat1.s1.") and p["ts"] > since_ms
                   for p in points)

    def close(self) -> None:
        try:
            if self.sat is not None:
                self.sat.cleanup()
        finally:
            self.core.cleanup()


class Lab:
    """One per test module or bench run; the shared parts start on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # the shared plant lives under a world-traversable dir, so that only the daemon's
        # own modes keep another local user out (under pytest's 0700 tmp the
        # another_local_user fault could not fail)
        self.open_root = Path(tempfile.mkdtemp(prefix="edgeos-chaos-"))
        os.chmod(self.open_root, 0o755)
        self._shared: Shared | None = None
        self._pair: Pair | None = None
        self._n = 0

    def fresh(self, name: str) -> Path:
        self._n += 1
        return self.root / f"{self._n:02d}-{name}"

    @property
    def shared(self) -> Shared:
        if self._shared is None:
            self._shared = Shared(self.open_root / "shared")
            self._shared.start()
        return self._shared

    @property
    def pair(self) -> Pair:
        if self._pair is None:
            self._pair = Pair(self.root / "pair")
            self._pair.start()
        return self._pair

    def close(self) -> None:
        try:
            if self._shared is not None:
                self._shared.close()
        finally:
            try:
                if self._pair is not None:
                    self._pair.close()
            finally:
                shutil.rmtree(self.open_root, ignore_errors=True)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
