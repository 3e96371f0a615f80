"""Loading routing.json: the CONTRACT examples, every refusal, file handling, warnings."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from edgeos.ipc.routing import (
    RouteTable,
    RoutingError,
    load_routing,
    load_routing_file,
    routing_schema,
)

from tests.unit.routing.examples import CONTRACT_EXAMPLE, CONTRACT_INSTANCES

INSTANCES = ("bt.bms_001", "plc_001", "mqtt.broker_local", "webhook.alert_service", "bt")



def errors_of(*routes: dict[str, Any], extra: dict[str, Any] | None = None) -> list[str]:
    doc = {"version": "1.0", "routes": list(routes), **(extra or {})}
    with pytest.raises(RoutingError) as caught:
        load_routing(doc, source="routing.json", instance_ids=INSTANCES)
    assert str(caught.value) == "\n".join(caught.value.errors)
    return caught.value.errors


def route(**keys: Any) -> dict[str, Any]:
    return {"id": "r1", "from": "plc_001.MAIN.x", "to": "plc_001.MAIN.y", **keys}


def test_contract_example_loads() -> None:
    table = load_routing(CONTRACT_EXAMPLE, source="routing.json", instance_ids=CONTRACT_INSTANCES)
    first, second = table.routes
    assert (first.id, first.source, first.targets) == (
        "bms_to_plc",
        "bt.bms_001.voltage",
        ("plc_001.MAIN.fbBattery.fVoltage",),
    )
    assert [step.text for step in first.transforms] == ["scale(0.001)"]
    assert second.targets == (
        "mqtt.broker_local.alarms/critical",
        "webhook.alert_service",
        "log.system",
    )
    assert second.condition is not None and second.condition.text == "value == true"
    assert second.enabled and not second.bidirectional
    assert table.warnings == []
    assert table.to_doc() == CONTRACT_EXAMPLE


def test_contract_example_validates_against_the_schema_file() -> None:
    schema_path = Path(__file__).resolve().parents[3] / "config/schemas/routing.schema.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(CONTRACT_EXAMPLE)
    assert routing_schema() == schema


def test_to_doc_is_a_copy() -> None:
    table = load_routing(CONTRACT_EXAMPLE, source="routing.json", instance_ids=CONTRACT_INSTANCES)
    table.to_doc()["routes"].clear()
    assert len(table.to_doc()["routes"]) == 2


def test_the_brief_example_message() -> None:
    errors = errors_of(
        {
            "id": "bms_to_plc",
            "from": "bt.bms_001.voltage",
            "to": "plc_001.MAIN.fbBattery.fVoltage",
            "transform": "scael(0.001)",
        }
    )
    assert len(errors) == 1
    assert errors[0].startswith(
        "routing.json: route 'bms_to_plc': transform 'scael(0.001)': unknown transform 'scael'"
    )


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"tranform": "scale(1)"}, "routing.json: route 'r1': unknown key(s) 'tranform'"),
        ({"enabled": "yes"}, "routing.json: route 'r1': enabled: 'yes' is not of type 'boolean'"),
        ({"to": []}, "routing.json: route 'r1': to: [] should be non-empty"),
        ({"to": "plc_001.MAIN y"}, "routing.json: route 'r1': to: 'plc_001.MAIN y' is not valid"),
        ({"to": ["plc_001.a", 3]}, "routing.json: route 'r1': to[1]: 3 is not of type 'string'"),
        ({"to": ["plc_001.a", "plc_001.a"]}, "has non-unique elements"),
        ({"from": "plc_001.MAIN x"}, "routing.json: route 'r1': from: 'plc_001.MAIN x' is not"),
        ({"schedule": {"from": "6:00", "to": "22:00"}}, "schedule.from: '6:00' is not valid"),
        ({"schedule": {"days": ["monday"]}}, "schedule.days[0]: 'monday' is not one of"),
        ({"schedule": {"from": "06:00"}}, "schedule: 'to' is a dependency of 'from'"),
        ({"schedule": {}}, "schedule: {} should be non-empty"),
        ({"condition": 1}, "condition: 1 is not of type 'string'"),
        ({"id": "a b"}, "routing.json: route 'a b': id: 'a b' is not valid"),
        ({"from": "plc_002.MAIN.x"}, "from 'plc_002.MAIN.x': no configured instance owns it"),
        ({"from": "plc_001..x"}, "from 'plc_001..x': address 'plc_001..x' has an empty segment"),
        ({"from": "plc_001.temp*"}, "route 'r1': from: pattern 'plc_001.temp*': segment 'temp*'"),
        ({"from": "nope.*.x"}, "from 'nope.*.x': no configured instance matches 'nope'"),
        ({"to": "plc_002.MAIN.y"}, "to 'plc_002.MAIN.y': no configured instance owns it"),
        ({"to": "plc_001.*"}, "to: 'plc_001.*' is not valid"),
        ({"transform": "scale('x')"}, "transform 'scale('x')': scale(f): f must be a finite"),
        ({"transform": ["scale(1)", "round(-1)"]}, "transform 'round(-1)': round(n)"),
        ({"condition": "value.x"}, "condition 'value.x': column 6: attribute access is not"),
        ({"condition": "dp('plc_009.x') > 1"}, "dp('plc_009.x'): no configured instance owns"),
        ({"schedule": {"days": ["mon"], "from": "22:00", "to": "22:00"}}, None),
        ({"bidirectional": True, "from": "plc_001.*"}, "bidirectional: 'from' must be an exact"),
        (
            {"bidirectional": True, "transform": ["scale(2)", "deadband(1)"]},
            "routing.json: route 'r1': bidirectional: transform 'deadband(1)': no inverse",
        ),
    ],
)
def test_refusals_name_file_route_and_reason(keys: dict[str, Any], message: str | None) -> None:
    if message is None:  # the control: this one is fine
        load_routing({"routes": [route(**keys)]}, source="routing.json", instance_ids=INSTANCES)
        return
    errors = errors_of(route(**keys))
    message = message.replace("owns it", f"owns '{keys.get('from') or keys.get('to')}'")
    assert any(message in error for error in errors), errors


def test_every_problem_is_reported_not_only_the_first() -> None:
    errors = errors_of(
        route(id="a", transform="nope()", condition="value.__class__"),
        route(id="b", to="plc_002.x", tranform="scale(1)"),
        route(id="c", schedule={"from": "25:00", "to": "01:00"}, condition="lambda: 1"),
        route(id="a"),
        {"from": "plc_001.x", "to": "plc_001.y"},
        "not a route",
        extra={"colour": "blue"},
    )
    joined = "\n".join(errors)
    for expected in [
        "routing.json: unknown key(s) 'colour'",
        "route 'a': transform 'nope()': unknown transform 'nope'",
        "route 'a': condition 'value.__class__': column 6",
        "route 'b': unknown key(s) 'tranform'",
        "route 'b': to 'plc_002.x': no configured instance owns 'plc_002.x'",
        "route 'c': schedule.from: '25:00' is not valid",
        "route 'c': condition 'lambda: 1': column 1: lambda is not allowed",
        "route 'a': id used by 2 routes",
        "route #5: 'id' is a required property",
        "route #6: 'not a route' is not of type 'object'",
    ]:
        assert expected in joined, joined


@pytest.mark.parametrize(
    "doc",
    [[], "routes", {"version": "1.0"}, {"routes": {}}, {"version": "2.0", "routes": []}],
)
def test_malformed_documents(doc: Any) -> None:
    with pytest.raises(RoutingError) as caught:
        load_routing(doc, source="routing.json", instance_ids=INSTANCES)
    assert all(error.startswith("routing.json: ") for error in caught.value.errors)


def test_version_is_optional_and_keys_default(table_of: Callable[..., RouteTable]) -> None:
    table = load_routing({"routes": [route()]}, source="x", instance_ids=INSTANCES)
    (only,) = table.routes
    assert only.enabled is True
    assert only.bidirectional is False
    assert only.transforms == ()
    assert only.condition is None and only.schedule is None
    assert only.description == ""


def test_patterns_whose_prefix_is_part_of_an_instance_id_are_accepted() -> None:
    table = load_routing(
        {"routes": [route(**{"from": "mqtt.*.alarms"}), route(id="r2", **{"from": "**.x"})]},
        source="routing.json",
        instance_ids=INSTANCES,
    )
    assert [r.is_pattern for r in table.routes] == [True, True]


def test_cycles_among_exact_routes_are_warnings() -> None:
    table = load_routing(
        {
            "routes": [
                route(id="ab", **{"from": "plc_001.a", "to": "plc_001.b"}),
                route(id="bc", **{"from": "plc_001.b", "to": ["plc_001.c", "log.x"]}),
                route(id="ca", **{"from": "plc_001.c", "to": "plc_001.a"}),
                route(id="self", **{"from": "plc_001.s", "to": "plc_001.s"}),
                route(id="off", enabled=False, **{"from": "plc_001.y", "to": "plc_001.x"}),
                route(id="pattern", **{"from": "plc_001.*", "to": "plc_001.z"}),
            ]
        },
        source="routing.json",
        instance_ids=INSTANCES,
    )
    assert table.warnings == [
        "routing.json: routes 'ab', 'bc', 'ca' form a cycle: plc_001.a -> plc_001.b -> plc_001.c"
        " -> plc_001.a; the router stops values that come back to their origin",
        "routing.json: routes 'self' form a cycle: plc_001.s -> plc_001.s; the router stops"
        " values that come back to their origin",
    ]


def test_missing_file_is_an_empty_table(tmp_path: Path) -> None:
    table = load_routing_file(tmp_path / "routing.json", instance_ids=INSTANCES)
    assert table.routes == [] and table.warnings == []


def test_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "routing.json"
    path.write_text(json.dumps(CONTRACT_EXAMPLE, indent=2))
    table = load_routing_file(path, instance_ids=CONTRACT_INSTANCES)
    assert [r.id for r in table.routes] == ["bms_to_plc", "alarm_multi_target"]
    assert table.source == str(path)


def test_bad_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "routing.json"
    path.write_text('{"version": "1.0",\n "routes": [\n  {"id": "x",}\n ]}')
    with pytest.raises(RoutingError) as caught:
        load_routing_file(path, instance_ids=INSTANCES)
    assert caught.value.errors == [
        f"{path}: line 3, column 14: Expecting property name enclosed in double quotes"
    ]


def test_duplicate_json_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "routing.json"
    path.write_text(
        '{"routes": [{"id": "x", "from": "plc_001.a", "to": "plc_001.b", "to": "log.x"}]}'
    )
    with pytest.raises(RoutingError, match="key 'to' appears twice"):
        load_routing_file(path, instance_ids=INSTANCES)


def test_semantic_errors_name_the_file_path(tmp_path: Path) -> None:
    path = tmp_path / "routing.json"
    path.write_text(json.dumps({"routes": [route(transform="scael(1)")]}))
    with pytest.raises(RoutingError) as caught:
        load_routing_file(path, instance_ids=INSTANCES)
    assert str(caught.value).startswith(f"{path}: route 'r1': transform 'scael(1)'")


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "routing.json"
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(RoutingError, match="cannot read"):
        load_routing_file(path, instance_ids=INSTANCES)


def test_fingerprint_ignores_description_and_spelling() -> None:
    def fingerprint(**keys: Any) -> str:
        doc = {"routes": [route(**keys)]}
        return load_routing(doc, source="x", instance_ids=INSTANCES).routes[0].fingerprint

    assert fingerprint() == fingerprint(description="hello", enabled=True, transform=[])
    assert fingerprint(to="plc_001.MAIN.y") == fingerprint(to=["plc_001.MAIN.y"])
    assert fingerprint(transform="scale(2)") == fingerprint(transform=["scale(2)"])
    assert fingerprint(transform="scale(2)") != fingerprint(transform="scale(3)")
