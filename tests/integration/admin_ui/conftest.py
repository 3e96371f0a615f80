"""Shared helpers of the admin UI API tests."""

from __future__ import annotations

import re
from typing import Any

SAMPLE = {"id": "plc_1", "address": "plc_1.MAIN.fTemp", "name": "simulator"}


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, concrete path, operation) for every operation of an OpenAPI document,
    placeholders filled with sample values (the first enum value for actions)."""
    out = []
    for template, item in doc["paths"].items():
        for method, op in item.items():
            enums = {p["name"]: p["schema"]["enum"][0] for p in op.get("parameters", [])
                     if p.get("in") == "path" and "enum" in p.get("schema", {})}
            values = {**SAMPLE, **enums}
            path = re.sub(r"\{(\w+)\}", lambda m, v=values: str(v.get(m.group(1), "x")),
                          template)
            out.append((method.upper(), path, op))
    return out
