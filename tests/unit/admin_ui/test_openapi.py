"""The OpenAPI document is valid and matches the router exactly."""

from __future__ import annotations

import re

from edgeos.admin_ui import openapi
from edgeos.admin_ui.app import ROUTES, to_regex
from openapi_spec_validator import validate


def test_document_is_valid_openapi() -> None:
    validate(openapi.build(ROUTES))


def test_every_route_and_method_is_documented_with_role_and_summary() -> None:
    doc = openapi.build(ROUTES)
    assert set(doc["paths"]) == {path for path, _ in ROUTES}
    for path, handler in ROUTES:
        ops = doc["paths"][path]
        assert set(ops) == set(openapi.implemented(handler) or ["get"]), path
        for method, op in ops.items():
            assert op["summary"], (path, method)
            assert op["x-role"] in ("none", "viewer", "admin")
            names = re.findall(r"\{(\w+)\}", path)
            assert [p["name"] for p in op.get("parameters", []) if p["in"] == "path"] == names


def test_writes_need_admin_and_csrf_reads_viewer() -> None:
    doc = openapi.build(ROUTES)
    ops = doc["paths"]
    assert ops["/api/admin/instances/{id}/{action}"]["post"]["x-role"] == "admin"
    assert {"session": [], "csrf": []} in ops["/api/admin/panic"]["post"]["security"]
    assert ops["/api/router/test"]["post"]["x-role"] == "viewer"
    assert ops["/api/connections"]["get"]["x-role"] == "viewer"
    assert ops["/health"]["get"]["security"] == []
    assert "requestBody" in ops["/api/widgets"]["post"]


def test_each_sample_path_reaches_its_own_route_first() -> None:
    """No route shadows another: a path made from a template matches it before any
    earlier rule in the table."""
    compiled = [(re.compile(to_regex(p, h)), p) for p, h in ROUTES]
    samples = {"id": "plc_001", "name": "simulator", "address": "mqtt_1.alarms/critical",
               "job": "1764400000-1"}
    for path, handler in ROUTES:
        enums = {k: v["enum"][0] for k, v in getattr(handler, "path_params", {}).items()
                 if "enum" in v}
        values = {**samples, **enums}
        concrete = re.sub(r"\{(\w+)\}", lambda m, v=values: v[m.group(1)], path)
        first = next(p for rx, p in compiled if rx.match(concrete))
        assert first == path, (concrete, first)
    action = dict(ROUTES)["/api/admin/instances/{id}/{action}"]
    rx = re.compile(to_regex("/api/admin/instances/{id}/{action}", action))
    assert rx.match("/api/admin/instances/x/kill")
    assert not rx.match("/api/admin/instances/x/explode")
