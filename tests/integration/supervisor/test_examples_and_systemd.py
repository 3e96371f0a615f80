"""Shipped examples validate, and the daemon speaks systemd's notify protocol."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from edgeos.workers import registry

from tests.integration.daemon import BIN, sim

EXAMPLES = Path(__file__).resolve().parents[3] / "config" / "examples"


def test_every_builtin_type_ships_an_example() -> None:
    missing = [t for t in registry.available_types() if not (EXAMPLES / f"{t}.json").exists()]
    assert missing == []


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_example_validates(example: str, tmp_path: Path) -> None:
    doc = json.loads((EXAMPLES / example).read_text())
    if "connections" not in doc:
        pytest.skip(f"{example} is not a connections file (e.g. a register map)")
    shutil.copy(EXAMPLES / example, tmp_path / "connections.json")
    done = subprocess.run([str(BIN / "edgectl"), "validate", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_demo_config_validates(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parents[3] / "config" / "demo"
    for name in ("connections.json", "routing.json"):
        shutil.copy(demo / name, tmp_path / name)
    done = subprocess.run([str(BIN / "edgectl"), "--json", "validate", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout)["valid"] is True, done.stdout


def test_systemd_notify_ready_watchdog_stopping(daemon_factory, tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(30)
    d = daemon_factory([sim("a")], env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "400000"})
    d.start(wait=False)
    seen: list[str] = []
    try:
        while not {"READY=1", "WATCHDOG=1"} <= set(seen):
            seen.append(sock.recv(256).decode())
        assert d.instance("a")["status"] == "running"  # READY only after start-up
        d.stop()
        while "STOPPING=1" not in seen:
            seen.append(sock.recv(256).decode())
    finally:
        sock.close()
    assert seen.index("READY=1") < seen.index("STOPPING=1")


def test_edgeos_help_and_bad_profile() -> None:
    done = subprocess.run([sys.executable, "-m", "edgeos.supervisor.cli", "--performance", "TURBO"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "performance profile 'TURBO'" in done.stderr
