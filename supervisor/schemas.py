"""JSON Schemas of the config files, loaded once, with readable error messages."""

from __future__ import annotations

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
    return [f"{where(e)}: {clip(e.message)}" for e in found]


def clip(message: str, limit: int = 300) -> str:
    """jsonschema quotes the offending value whole (a 50 MB name, a huge map): keep the
    start, say how long it was."""
    return message if len(message) <= limit else f"{message[:limit]}... ({len(message)} chars)"
