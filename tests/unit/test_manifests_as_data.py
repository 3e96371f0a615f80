"""The supervisor and the admin UI read manifests as data (issue 14 item 6): loading
all their modules, every manifest and every example config imports no worker package
beyond the registry, and workers get complete configs (the schema's defaults)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edgeos.supervisor import config as cfgmod

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import importlib, json, pkgutil, sys
from pathlib import Path
import edgeos.admin_ui, edgeos.supervisor
for package in (edgeos.supervisor, edgeos.admin_ui):
    for found in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not found.name.endswith("__main__"):
            importlib.import_module(found.name)
from edgeos.supervisor import config as cfgmod
from edgeos.workers import registry
for type_name in registry.available_types():
    registry.manifest(type_name)
    registry.readme(type_name)
for example in sorted(Path(sys.argv[1]).glob("*.json")):
    cfgmod.validate_connections(json.loads(example.read_text()), cfgmod.Settings())
print(json.dumps(sorted(m for m in sys.modules if m.startswith("edgeos.workers."))))
"""


def test_supervisor_and_ui_modules_import_no_worker_package() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "config" / "examples")],
                          capture_output=True, text=True, timeout=120, cwd="/")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["edgeos.workers.registry"]


def test_a_planted_import_is_seen() -> None:
    code = PROBE.replace("for type_name", "import edgeos.workers.simulator.worker\nfor type_name")
    done = subprocess.run([sys.executable, "-c", code, str(ROOT / "config" / "examples")],
                          capture_output=True, text=True, timeout=120, cwd="/")
    assert "edgeos.workers.simulator.worker" in json.loads(done.stdout)


def test_breakers_come_complete_from_the_schema() -> None:
    doc = {"connections": [
        {"id": "plc", "type": "modbus", "config": {"host": "127.0.0.1", "registers": [
            {"name": "t", "address": 0, "type": "int16"}]}},
        {"id": "heat", "type": "mbus", "config": {"serial_port": "/dev/ttyUSB0",
                                                   "meters": [{"address": 5}]}}]}
    plc, heat = cfgmod.validate_connections(doc, cfgmod.Settings())
    assert plc.config["breaker"] == {"failures": 3, "open_s": 5, "max_open_s": 60}
    assert (plc.config["unit_id"], plc.config["port"], plc.config["transport"]) == (
        1, 502, "tcp")
    assert heat.config["breaker"] == {"failures": 3, "open_s": 10, "max_open_s": 600}
