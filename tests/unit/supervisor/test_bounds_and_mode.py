"""Pure checks behind issue 17 items 4, 5 and 13: the state file's refusals, schema
string bounds, oversized strings anywhere, the instance and memory projection."""

from __future__ import annotations

import pytest
from edgeos.common import capacity, schemas
from edgeos.supervisor import modefile


@pytest.mark.parametrize("raw, reason", [
    (b'{"mode": "panic"', "invalid JSON"),
    (b"[1,2,3]", "expected an object with a 'mode', got list"),
    (b'{"mode":"explode"}', "mode must be 'normal' or 'panic', got \"explode\""),
    (b'{"mode": null}', "got null"),
    (b"\xff\xfe{}", "not UTF-8 text"),
    (b" " * (modefile.MAX_STATE_BYTES + 1), "larger than"),
])
def test_state_refusals_are_one_line(raw: bytes, reason: str) -> None:
    why = modefile.refusal(raw)
    assert why is not None and reason in why and "\n" not in why


def test_valid_states() -> None:
    assert modefile.refusal(b'{"mode": "panic", "why": "x"}') is None
    assert modefile.refusal(b'{"mode": "normal"}') is None


def test_bounded_gives_every_unbounded_string_a_max_length() -> None:
    schema = {"type": "object", "properties": {
        "a": {"type": "string"}, "b": {"type": "string", "maxLength": 10},
        "c": {"type": ["string", "null"]}, "d": {"enum": ["x"]},
        "e": {"type": "array", "items": {"type": "string"}},
        "type": {"const": "string"}}}
    out = schemas.bounded(schema)
    props = out["properties"]
    assert props["a"]["maxLength"] == schemas.MAX_STRING
    assert props["b"]["maxLength"] == 10
    assert props["c"]["maxLength"] == schemas.MAX_STRING
    assert "maxLength" not in props["d"] and "maxLength" not in props["type"]
    assert props["e"]["items"]["maxLength"] == schemas.MAX_STRING
    assert "maxLength" not in schema["properties"]["a"]  # a copy


def test_oversized_finds_long_values_and_keys_anywhere() -> None:
    doc = {"connections": [{"failsafe": {"x": "v" * 70_000, "k" * 70_000: 1}}]}
    found = schemas.oversized(doc)
    assert found[0] == ("connections[0].failsafe.x: string of 70000 characters is longer "
                        "than the limit of 65536")
    assert "key of 70000 characters" in found[1]
    assert schemas.oversized({"a": ["x" * 10]}) == []


def test_messages_quote_at_most_300_characters() -> None:
    errors = schemas.validate_against({"type": "object", "properties": {
        "n": {"type": "integer"}}}, {"n": "x" * 10_000})
    assert len(errors) == 1 and len(errors[0]) < 400 and "(10027 chars)" in errors[0]


def test_instance_limit_and_memory_projection() -> None:
    assert capacity.instance_problems("c.json", 10, 10, 256, ram_mb=4096) == []
    over = capacity.instance_problems("c.json", 300, 0, 256, ram_mb=4096)
    assert over == ["c.json: 300 connections, more than the limit of 256 (max_instances "
                    "in edgeos.json)"]
    mem = capacity.instance_problems("c.json", 100, 100, 1000, ram_mb=4096)
    assert len(mem) == 1 and "100 enabled connections need about 4,150 MB" in mem[0]
    assert "80% of this machine's 4,096 MB" in mem[0]


def test_caps_above_the_machine_are_allowed_but_said(caplog) -> None:
    assert not capacity.warn_overcommit("c.json", [256] * 10, ram_mb=4096)
    assert capacity.warn_overcommit("c.json", [256] * 20, ram_mb=4096)
    assert "add up to 5,120 MB, more than this machine's 4,096 MB" in caplog.text
