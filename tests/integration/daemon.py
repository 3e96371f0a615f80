"""Start a real edgeos daemon for a test and talk to it like a user would."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from edgeos.ipc import addresses
from edgeos.ipc.rpc import RpcClient
from edgeos.supervisor import cgroups

from tests.integration.support import wait_until

BIN = Path(sys.executable).parent


def sim(iid: str, profile: str = "plc", rate_hz: float = 5, **extra: Any) -> dict[str, Any]:
    """A simulator connection entry."""
    entry: dict[str, Any] = {"id": iid, "type": "simulator",
                             "config": {"profile": profile, "rate_hz": rate_hz}}
    if "fault" in extra:
        entry["config"]["fault"] = extra.pop("fault")
    entry.update(extra)
    return entry


class Daemon:
    """One ``edgeos`` process with its own config, data and run dirs under ``root``."""

    def __init__(self, root: Path, connections: list[dict[str, Any]] | None = None,
                 routes: list[dict[str, Any]] | None = None,
                 settings: dict[str, Any] | None = None, headless: bool = True,
                 extra_args: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.root = root
        self.config = root / "config"
        self.data = root / "data"
        # ipc socket paths must stay under ~100 bytes: keep the run dir short
        self.run = Path(tempfile.mkdtemp(prefix="eo-"))
        self.config.mkdir(parents=True, exist_ok=True)
        if connections is not None:
            self.write_connections(connections)
        if routes is not None:
            self.write_routes(routes)
        if settings is not None:
            (self.config / "edgeos.json").write_text(json.dumps(settings))
        self.args = ["--config", str(self.config), "--data", str(self.data), "--run",
                     str(self.run), *(["--headless"] if headless else []), *(extra_args or [])]
        if not {"--satellite", "--satellite-listen"} & set(self.args):
            self.args += ["--satellite-listen", "off"]  # parallel daemons never collide
        self.env = {**os.environ, **(env or {})}
        self.command = [str(BIN / "edgeos")]
        self.proc: subprocess.Popen[str] | None = None
        self._client: RpcClient | None = None

    def write_connections(self, connections: list[dict[str, Any]]) -> None:
        (self.config / "connections.json").write_text(
            json.dumps({"version": "1.0", "connections": connections}))

    def write_routes(self, routes: list[dict[str, Any]]) -> None:
        (self.config / "routing.json").write_text(json.dumps({"version": "1.0",
                                                              "routes": routes}))

    # -- lifecycle -------------------------------------------------------------------
    def start(self, wait: bool = True, timeout: float = 30) -> Daemon:
        self.log = open(self.root / "daemon.log", "w")  # noqa: SIM115
        # cwd: the mark every process of this daemon inherits (children_by_run_dir)
        self.proc = subprocess.Popen([*self.command, *self.args], stdout=self.log,
                                     stderr=subprocess.STDOUT, text=True, env=self.env,
                                     cwd=self.root)
        if wait:
            self.wait_for(lambda: addresses.socket_path(self.run, addresses.CONTROL).exists(),
                          timeout, "control socket")
            self.wait_for(self._settled, timeout, "instances running")
        return self

    def _settled(self) -> bool:
        """Every enabled instance is past start-up (in panic, workers stay stopped)."""
        status = self.status()
        return all(i["status"] != "starting" and (i["status"] != "stopped" or not i["enabled"]
                                                  or status["mode"] == "panic")
                   for i in status["instances"])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        if self._client is not None:
            self._client.close()
            self._client = None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.log.close()
        return code

    def cleanup(self) -> None:
        """End whatever this daemon left behind: only processes we can tie to it."""
        if self._client is not None:
            self._client.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for p in self.children_by_run_dir():
            with contextlib.suppress(psutil.Error):
                p.kill()
        if self.proc is not None:  # a killed daemon could not remove its cgroups
            cgroups.remove_subtrees_of(self.proc.pid)
        shutil.rmtree(self.run, ignore_errors=True)

    def close(self) -> None:
        """Stop it (SIGTERM, as a user would) if it still runs, then :meth:`cleanup`."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        self.cleanup()

    def children_by_run_dir(self) -> list[psutil.Process]:
        """Processes started for this daemon: the daemon runs in ``root`` and nothing of
        ours changes directory, so every process it started, exec'd or forked, has that
        working directory. (Their environment cannot tell: a process title set by
        setproctitle overwrites what /proc/PID/environ shows.)"""
        mark = str(self.root.resolve())
        found = []
        for p in psutil.process_iter(["pid"]):
            try:
                cwd = p.cwd()
            except psutil.Error:
                continue
            if cwd == mark or cwd == f"{mark} (deleted)":
                found.append(p)
        return found

    # -- talking to it ---------------------------------------------------------------
    @property
    def client(self) -> RpcClient:
        if self._client is None:
            self._client = RpcClient(addresses.endpoint(self.run, addresses.CONTROL), 40)
        return self._client

    def call(self, cmd: str, **args: Any) -> Any:
        return self.client.call(cmd, **args)

    def status(self, iid: str | None = None) -> dict[str, Any]:
        return self.call("status", **({"id": iid} if iid else {}))

    def instance(self, iid: str) -> dict[str, Any]:
        return self.status(iid)["instances"][0]

    def ctl(self, *argv: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the real ``edgectl`` against this daemon."""
        return subprocess.run([str(BIN / "edgectl"), "--run", str(self.run), *argv],
                              capture_output=True, text=True, input=input, timeout=60)

    def ctl_json(self, *argv: str) -> Any:
        done = self.ctl("--json", *argv)
        assert done.returncode == 0, done.stderr + done.stdout
        return json.loads(done.stdout)

    def wait_for(self, pred: Callable[[], Any], timeout: float = 20, what: str = "condition",
                 interval: float = 0.05) -> Any:
        return wait_until(pred, timeout, what, interval, check=self._alive,
                          context=lambda: self.daemon_log()[-3000:])

    def _alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"daemon exited with {self.proc.returncode}:\n"
                                 f"{self.daemon_log()}")

    def wait_state(self, iid: str, *states: str, timeout: float = 20) -> dict[str, Any]:
        return self.wait_for(lambda: (i := self.instance(iid))["status"] in states and i,
                             timeout, f"{iid} in {states}")

    def daemon_log(self) -> str:
        path = self.root / "daemon.log"
        return path.read_text() if path.exists() else ""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
