"""Defaults come from each manifest's schema, and manifests are read as data
(issue 14 item 6)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from edgeos.common.schemas import with_defaults
from edgeos.supervisor import config as cfgmod

EXAMPLES = Path(cfgmod.__file__).resolve().parents[1] / "config" / "examples"


def test_defaults_fill_nested_objects_refs_and_array_items() -> None:
    schema = {"type": "object", "properties": {
        "timeout_s": {"type": "number", "default": 1.0},
        "given": {"type": "integer", "default": 7},
        "breaker": {"type": "object", "default": {},
                    "properties": {"failures": {"type": "integer", "default": 3}}},
        "items": {"type": "array", "items": {"$ref": "#/$defs/item"}}},
        "$defs": {"item": {"type": "object", "properties": {"scale": {"default": 1}}}}}
    doc = {"given": 9, "items": [{"name": "a"}, {"name": "b", "scale": 2}]}
    out = with_defaults(schema, doc)
    assert out == {"given": 9, "timeout_s": 1.0, "breaker": {"failures": 3},
                   "items": [{"name": "a", "scale": 1}, {"name": "b", "scale": 2}]}
    assert doc == {"given": 9, "items": [{"name": "a"}, {"name": "b", "scale": 2}]}


def test_validated_instances_carry_their_schema_defaults() -> None:
    doc = {"version": "1.0", "connections": [{"id": "m", "type": "mbus", "config": {
        "serial_port": "/dev/ttyUSB0", "meters": [{"address": 5}]}}]}
    config = cfgmod.validate_connections(doc, cfgmod.Settings())[0].config
    assert config["baudrate"] == 2400 and config["timeout_s"] == 1  # from the schema
    assert "baudrate" not in doc["connections"][0]["config"]


def test_a_disabled_type_is_refused_where_config_is_validated() -> None:
    doc = json.loads((EXAMPLES / "simulator.json").read_text())
    settings = cfgmod.Settings(plugins={"disabled": ["simulator"]})
    with pytest.raises(cfgmod.ConfigError) as err:
        cfgmod.validate_connections(doc, settings)
    assert "'simulator' is disabled" in str(err.value)


def test_config_validation_imports_no_device_package() -> None:
    """Reading the bms and mbus manifests used to import their protocol decoders into
    the supervisor (``resources.files`` runs the package ``__init__``)."""
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from edgeos.supervisor import config as c\n"
        f"ex = Path({str(EXAMPLES)!r})\n"
        "for t in ('bms', 'mbus', 'modbus', 'ads', 'mqtt'):\n"
        "    c.validate_connections(json.loads((ex / f'{t}.json').read_text()), c.Settings())\n"
        "bad = sorted(m for m in sys.modules if m.startswith('edgeos.workers.')\n"
        "             and m != 'edgeos.workers.registry')\n"
        "bad += [m for m in ('pymodbus', 'pyads', 'bleak', 'serial', 'paho') if m in sys.modules]\n"
        "print(json.dumps(bad))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
