"""The config schema (manifest and its generated copy), the shipped examples, and the
SunSpec map checked point by point against the SunSpec model definitions.

``workers/modbus/manifest.json`` is the one source of the schema: the supervisor and
the admin UI read it from there, like any plugin's. ``config/schemas/modbus.schema.json``
is generated from it for tools that want a standalone file; regenerate it with
``EDGEOS_WRITE_SCHEMAS=1 pytest tests/unit/modbus/test_modbus_config.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from edgeos.supervisor.config import Settings, validate_connections
from edgeos.workers.modbus.plan import plan
from edgeos.workers.modbus.points import load
from edgeos.workers.modbus.registers import width

REPO = Path(__file__).resolve().parents[3]
MANIFEST = REPO / "workers" / "modbus" / "manifest.json"
SCHEMA_FILE = REPO / "config" / "schemas" / "modbus.schema.json"
EXAMPLES = REPO / "config" / "examples"


def standalone_schema() -> dict[str, Any]:
    schema = json.loads(MANIFEST.read_text(encoding="utf-8"))["config_schema"]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://smarthome-edge.local/schemas/modbus.schema.json",
            "title": "config of a modbus instance (generated from workers/modbus/manifest.json)",
            **schema}


def test_schema_file_is_generated_from_the_manifest() -> None:
    want = json.dumps(standalone_schema(), indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("EDGEOS_WRITE_SCHEMAS"):
        SCHEMA_FILE.write_text(want, encoding="utf-8")
    assert SCHEMA_FILE.read_text(encoding="utf-8") == want, \
        "config/schemas/modbus.schema.json is stale: EDGEOS_WRITE_SCHEMAS=1 regenerates it"
    jsonschema.Draft202012Validator.check_schema(standalone_schema())


@pytest.mark.parametrize(("name", "requests"), [("modbus.json", [8, 2, 3]),
                                                ("sunspec_inverter.json", [2])])
def test_examples_pass_the_supervisor_and_plan(name: str, requests: list[int]) -> None:
    doc = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    instances = validate_connections(doc, Settings())
    assert [i.type for i in instances] == ["modbus"] * len(requests)
    assert [len(plan(load(i.config).values(), max_gap=i.config.get("max_gap", 0)))
            for i in instances] == requests


# SunSpec point types -> the worker's types, and their "not implemented" raw values
SUNSPEC_TYPES = {"uint16": ("uint16", 65535), "int16": ("int16", -32768),
                 "acc32": ("uint32", 0), "sunssf": ("int16", -32768),
                 "enum16": ("uint16", 65535), "bitfield32": ("uint32", 0xFFFFFFFF),
                 "string": ("string", None)}
SUNSPEC_UNITS = {"Pct": "%", "C": "°C"}


def test_sunspec_map_matches_the_model_definitions(testdata: Path) -> None:
    doc = json.loads((EXAMPLES / "sunspec_inverter.json").read_text(encoding="utf-8"))
    by_name = {r["name"]: r for r in doc["connections"][0]["config"]["registers"]}
    assert by_name.pop("sunspec.marker")["address"] == 40000  # "SunS"
    address, seen = 40002, 0
    for prefix, model in (("common", "model_1.json"), ("inverter", "model_103.json")):
        points = json.loads((testdata / "sunspec" / model).read_text())["group"]["points"]
        assert sum(p["size"] for p in points[2:]) == {"common": 66, "inverter": 50}[prefix]
        for p in points:
            if p["type"] == "pad":
                address += p["size"]
                continue
            entry = by_name[f"{prefix}.{p['name']}"]
            seen += 1
            type_, absent = SUNSPEC_TYPES[p["type"]]
            assert (entry["address"], entry["type"]) == (address, type_), entry
            assert width(type_, entry.get("count")) == p["size"], entry
            if p["name"] not in ("ID", "L"):
                assert entry.get("not_implemented") == absent, entry
            assert entry.get("scale_factor") == (f"{prefix}.{p['sf']}" if "sf" in p else None)
            units = p.get("units")
            assert entry.get("unit") == (SUNSPEC_UNITS.get(units, units) if units else None)
            assert entry.get("writable", False) == (p.get("access") == "RW")
            address += p["size"]
    assert seen == len(by_name) and address == 40122
