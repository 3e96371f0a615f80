"""A real Node-RED for the palette tests: installed once into a cache outside the repo,
started per test module on a free loopback port with its own user dir, driven through its
admin HTTP API, stopped by pid."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.integration.admin_ui.web import free_port
from tests.integration.support import wait_until

log = logging.getLogger(__name__)

NODE_RED_VERSION = "4.1.8"  # Node-RED 5 needs Node >= 22; 4.1 runs on Node >= 18.5
PALETTE_DIR = Path(__file__).resolve().parents[3] / "nodered"
PALETTE_NAME = "node-red-contrib-smarthome-edge"
NPM_FLAGS = ["--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=error"]
INSTALL_TIMEOUT_S = 300


def cache_root() -> Path:
    """``$EDGEOS_TEST_CACHE`` or ``$XDG_CACHE_HOME/edgeos-test`` (``~/.cache/...``):
    shared between runs and never inside the work tree."""
    if os.environ.get("EDGEOS_TEST_CACHE"):
        return Path(os.environ["EDGEOS_TEST_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "edgeos-test"


def require_tools() -> None:
    """Node.js and npm must be there (``make test`` installs them); say so plainly."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise AssertionError(f"{tool} is not on PATH: the Node-RED tests need Node.js >= "
                                 "18.5 and npm (Debian packages nodejs and npm)")
    version = subprocess.run(["node", "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    major, minor = (int(x) for x in re.findall(r"\d+", version)[:2])
    if (major, minor) < (18, 5):
        raise AssertionError(f"Node.js {version} is too old for Node-RED {NODE_RED_VERSION}")


def npm(*args: str, cwd: Path | None = None) -> None:
    done = subprocess.run(["npm", *args, *NPM_FLAGS], cwd=cwd, capture_output=True, text=True,
                          timeout=INSTALL_TIMEOUT_S)
    if done.returncode != 0:
        raise AssertionError(f"npm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def install_node_red() -> Path:
    """The Node-RED install dir, installing it first if the cache lacks it. Installs into
    a scratch dir and renames it into place, under a lock, so an interrupted or parallel
    run never leaves or sees half an install."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    home = root / f"nodered-{NODE_RED_VERSION}"
    red_js = home / "node_modules" / "node-red" / "red.js"
    with open(root / f"nodered-{NODE_RED_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if red_js.exists():
            return home
        scratch = Path(tempfile.mkdtemp(prefix=f"nodered-{NODE_RED_VERSION}.", dir=root))
        try:
            log.info("installing node-red@%s into %s", NODE_RED_VERSION, home)
            npm("install", "--prefix", str(scratch), f"node-red@{NODE_RED_VERSION}")
            shutil.rmtree(home, ignore_errors=True)
            scratch.rename(home)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return home


def pack_palette(dest: Path) -> Path:
    """``npm pack`` the repo's palette into ``dest``: installs like a published package
    (only the files it declares) and writes nothing into the work tree."""
    dest.mkdir(parents=True, exist_ok=True)
    npm("pack", str(PALETTE_DIR), "--pack-destination", str(dest), cwd=dest)
    (tarball,) = dest.glob(f"{PALETTE_NAME}-*.tgz")
    return tarball


SETTINGS_JS = """\
module.exports = {
    uiHost: "127.0.0.1",
    uiPort: %(port)d,
    flowFile: "flows.json",
    credentialSecret: "edgeos-test-only",
    logging: {console: {level: "debug", metrics: false, audit: false}},
    diagnostics: {enabled: false, ui: false},
    telemetry: {enabled: false},
    editorTheme: {tours: false, projects: {enabled: false}},
    externalModules: {autoInstall: false, palette: {allowInstall: false},
                      modules: {allowInstall: false}},
};
"""


class NodeRed:
    """One Node-RED process with the palette installed in its own user dir."""

    def __init__(self, home: Path, tarball: Path, user_dir: Path) -> None:
        self.home = home
        self.user_dir = user_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        user_dir.mkdir(parents=True, exist_ok=True)
        (user_dir / "package.json").write_text(json.dumps(
            {"name": "edgeos-test-userdir", "version": "0.0.0", "private": True,
             "dependencies": {PALETTE_NAME: f"file:{tarball}"}}))
        (user_dir / "settings.js").write_text(SETTINGS_JS % {"port": self.port})

    def install_palette(self) -> None:
        npm("install", "--prefer-offline", cwd=self.user_dir)

    def start(self, timeout: float = 60) -> NodeRed:
        red_js = self.home / "node_modules" / "node-red" / "red.js"
        out = open(self.user_dir / "nodered.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            ["node", str(red_js), "-u", str(self.user_dir), "-p", str(self.port)],
            stdout=out, stderr=subprocess.STDOUT, cwd=self.user_dir)
        out.close()
        self.wait_for(lambda: self.request("GET", "/settings")[0] == 200, timeout,
                      "the Node-RED admin API")
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    # -- admin API -------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json", "Accept": "application/json",
                **(headers or {})}
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                raw = res.read()
                return res.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")
        except OSError as exc:
            return 0, str(exc)

    def palette_nodes(self) -> list[dict[str, Any]]:
        """The node sets Node-RED loaded from the palette (``GET /nodes``)."""
        status, sets = self.request("GET", "/nodes")
        assert status == 200, sets
        return [s for s in sets if s.get("module") == PALETTE_NAME]

    def deploy(self, flow: list[dict[str, Any]]) -> None:
        """Replace every flow (a full deploy, as the editor's Deploy button does)."""
        status, answer = self.request("POST", "/flows", flow,
                                      {"Node-RED-Deployment-Type": "full"})
        assert status in (200, 204), f"deploy refused: {status} {answer}"

    def log_text(self) -> str:
        path = self.user_dir / "nodered.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_for(self, pred: Callable[[], Any], timeout: float = 20,
                 what: str = "condition", interval: float = 0.05) -> Any:
        return wait_until(pred, timeout, what, interval, check=self._alive,
                          context=lambda: "--- Node-RED log ---\n" + self.log_text()[-4000:])

    def _alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"Node-RED exited with {self.proc.returncode}:\n"
                                 f"{self.log_text()[-4000:]}")
