"""Secrets in connection configs: never sent back, kept when a form sends them back.

A worker type marks its secret config keys in its manifest's JSON Schema with the
standard annotation ``"writeOnly": true`` (passwords, keys, tokens; on
``additionalProperties`` for maps such as HTTP headers). Every response carries
:data:`PLACEHOLDER` in their place, whatever the caller's role; a write that still
carries the placeholder keeps the stored secret, so a form can be saved unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

PLACEHOLDER = "********"

Schema = dict[str, Any]


class PlaceholderError(ValueError):
    """A placeholder stands where no secret is stored (``path`` names the key)."""


def _resolve(schema: Any, root: Schema) -> Iterator[Schema]:
    """The schema and every sub-schema that applies to the same value ($ref, allOf,
    anyOf, oneOf, if/then/else): a key is secret when any of them says so."""
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        yield from _resolve(target, root)
    yield schema
    for key in ("allOf", "anyOf", "oneOf"):
        for branch in schema.get(key, []):
            yield from _resolve(branch, root)
    for key in ("then", "else"):
        yield from _resolve(schema.get(key), root)


def _child(schemas: list[Schema], key: str | int, root: Schema) -> list[Schema]:
    """The schemas that apply to ``value[key]``."""
    out: list[Schema] = []
    for schema in schemas:
        if isinstance(key, int):
            sub = schema.get("items")
        else:
            sub = schema.get("properties", {}).get(key)
            if sub is None:
                sub = next((s for p, s in schema.get("patternProperties", {}).items()
                            if re.search(p, key)), None)
            if sub is None:
                sub = schema.get("additionalProperties")
        out.extend(_resolve(sub, root))
    return out


def _walk(value: Any, schemas: list[Schema], root: Schema,
          on_secret: Callable[[Any, tuple[str | int, ...]], Any],
          path: tuple[str | int, ...] = ()) -> Any:
    if any(s.get("writeOnly") or s.get("x-secret") for s in schemas):
        return on_secret(value, path)
    if isinstance(value, dict):
        return {k: _walk(v, _child(schemas, k, root), root, on_secret, (*path, k))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, _child(schemas, n, root), root, on_secret, (*path, n))
                for n, v in enumerate(value)]
    return value


def redact(config: Any, schema: Schema) -> Any:
    """A copy of ``config`` with every secret value replaced by the placeholder."""
    return _walk(config, list(_resolve(schema, schema)), schema,
                 lambda v, _p: v if v in (None, "") else PLACEHOLDER)


def _get(doc: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        try:
            doc = doc[key]
        except (KeyError, IndexError, TypeError):
            return PLACEHOLDER  # nothing stored there
    return doc


def restore(config: Any, stored: Any, schema: Schema) -> Any:
    """``config`` with each placeholder replaced by the secret stored at the same place
    in ``stored``; :class:`PlaceholderError` when nothing is stored there."""
    def keep(value: Any, path: tuple[str | int, ...]) -> Any:
        if value != PLACEHOLDER:
            return value
        old = _get(stored, path)
        if old == PLACEHOLDER:
            raise PlaceholderError(".".join(map(str, path)))
        return old

    return _walk(config, list(_resolve(schema, schema)), schema, keep)
