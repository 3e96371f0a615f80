"""JSON Schemas of the config files, loaded once, with readable error messages."""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from referencing import Registry, Resource


@cache
def _registry() -> Registry:
    resources_ = []
    for entry in resources.files("edgeos.config").joinpath("schemas").iterdir():
        if entry.name.endswith(".schema.json"):
            doc = json.loads(entry.read_text(encoding="utf-8"))
            resources_.append((doc["$id"], Resource.from_contents(doc)))
    return Registry().with_resources(resources_)


@cache
def schema(name: str) -> dict[str, Any]:
    """The schema ``config/schemas/<name>.schema.json``."""
    text = resources.files("edgeos.config").joinpath("schemas", f"{name}.schema.json")
    return json.loads(text.read_text(encoding="utf-8"))


def where(error: jsonschema.ValidationError) -> str:
    """A JSON path such as ``connections[2].limits.nice`` for an error."""
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def errors(name: str, doc: Any) -> list[str]:
    """Every violation of schema ``name`` in ``doc``, as ``path: message`` lines."""
    return validate_against(schema(name), doc)


def validate_against(schema_doc: dict[str, Any], doc: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema_doc, registry=_registry())
    found = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{where(e)}: {e.message}" for e in found]


def with_defaults(schema_doc: dict[str, Any], doc: Any,
                  root: dict[str, Any] | None = None) -> Any:
    """``doc`` (already valid) with the ``default`` of every absent property filled in,
    in nested objects and array items too (local ``$ref``s followed), so a worker reads
    a complete config and no default is restated in code. A copy: ``doc`` itself is
    left as the user wrote it."""
    root = schema_doc if root is None else root
    if not isinstance(schema_doc, dict):
        return doc
    ref = schema_doc.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        if isinstance(target, dict) and target is not schema_doc:
            doc = with_defaults(target, doc, root)
    if isinstance(doc, dict):
        out = dict(doc)
        props = schema_doc.get("properties") or {}
        for key, sub in props.items():
            if not isinstance(sub, dict):
                continue
            if key not in out and "default" in sub:
                out[key] = copy.deepcopy(sub["default"])
            if key in out:
                out[key] = with_defaults(sub, out[key], root)
        extra = schema_doc.get("additionalProperties")
        if isinstance(extra, dict):
            for key in set(out) - set(props):
                out[key] = with_defaults(extra, out[key], root)
        return out
    if isinstance(doc, list) and isinstance(schema_doc.get("items"), dict):
        return [with_defaults(schema_doc["items"], item, root) for item in doc]
    return doc
