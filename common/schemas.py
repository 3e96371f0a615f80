"""JSON Schemas of the config files, loaded once, with readable error messages.

jsonschema (with referencing, attrs and rpds: about 5 MB) is imported when something
is validated, not with this module: a broker or uplink that checks nothing never pays
for it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema
    from referencing import Registry

# Where errors() and validate_against() run when not here: the supervisor sets a
# edgeos.supervisor.validator_process.ValidatorProcess, so jsonschema never loads into it.
_elsewhere: Callable[[str | dict[str, Any], Any], list[str]] | None = None


def validate_elsewhere(check: Callable[[str | dict[str, Any], Any], list[str]] | None) -> None:
    """Run every validation of this process through ``check(schema or name, doc)``
    (None: in this process again)."""
    global _elsewhere
    _elsewhere = check

MAX_STRING = 4096  # default maxLength of every string a schema does not bound itself
MAX_ANY_STRING = 65536  # any string or key anywhere, schema'd or free-form (failsafe, maps)


def bounded(node: Any) -> Any:
    """A copy of a schema in which every string without a ``maxLength`` (and without an
    enum or const) gets MAX_STRING: a 50 MB name must be refused, and a worker
    manifest's schema may forget the bound."""
    if isinstance(node, list):
        return [bounded(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: bounded(value) for key, value in node.items()}
    kind = out.get("type")
    if (kind == "string" or (isinstance(kind, list) and "string" in kind)) \
            and not {"maxLength", "enum", "const"} & set(out):
        out["maxLength"] = MAX_STRING
    return out


def oversized(doc: Any, path: str = "", found: list[str] | None = None,
              limit: int = MAX_ANY_STRING) -> list[str]:
    """``path: ...`` lines for strings (values or keys) longer than ``limit``, anywhere in
    ``doc``, also where no schema looks (free-form objects); at most 10."""
    found = [] if found is None else found
    if len(found) >= 10:
        return found
    if isinstance(doc, str) and len(doc) > limit:
        found.append(f"{path or '(top level)'}: string of {len(doc)} characters is longer "
                     f"than the limit of {limit}")
    elif isinstance(doc, dict):
        for key, value in doc.items():
            sub = f"{path}.{str(key)[:40]}" if path else str(key)[:40]
            if isinstance(key, str) and len(key) > limit:
                found.append(f"{sub}...: key of {len(key)} characters is longer than the "
                             f"limit of {limit}")
            oversized(value, sub, found, limit)
    elif isinstance(doc, list):
        for n, value in enumerate(doc):
            oversized(value, f"{path}[{n}]", found, limit)
    return found


def schema_dir() -> Path:
    """``config/schemas`` of the installed package, a plain folder. Found from the
    package's file, not through importlib.resources: that import (tempfile, shutil,
    lzma, ...) would cost the supervisor ~0.6 MB of RSS for its whole life (issue 16)."""
    import edgeos.config

    return Path(edgeos.config.__file__).parent / "schemas"


@cache
def _registry() -> Registry:
    from referencing import Registry, Resource

    resources_ = []
    for entry in schema_dir().iterdir():
        if entry.name.endswith(".schema.json"):
            doc = bounded(json.loads(entry.read_text(encoding="utf-8")))
            resources_.append((doc["$id"], Resource.from_contents(doc)))
    return Registry().with_resources(resources_)


@cache
def schema(name: str) -> dict[str, Any]:
    """The schema ``config/schemas/<name>.schema.json``."""
    text = schema_dir() / f"{name}.schema.json"
    return bounded(json.loads(text.read_text(encoding="utf-8")))


def where(error: jsonschema.ValidationError) -> str:
    """A JSON path such as ``connections[2].limits.nice`` for an error."""
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def errors(name: str, doc: Any) -> list[str]:
    """Every violation of schema ``name`` in ``doc``, as ``path: message`` lines."""
    if _elsewhere is not None:
        return _elsewhere(name, doc)
    return validate_against(schema(name), doc)


def validate_against(schema_doc: dict[str, Any], doc: Any) -> list[str]:
    if _elsewhere is not None:
        return _elsewhere(schema_doc, doc)
    import jsonschema

    validator = jsonschema.Draft202012Validator(bounded(schema_doc), registry=_registry())
    found = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    return oversized(doc) + [f"{where(e)}: {message(e)}" for e in found]


def message(error: jsonschema.ValidationError) -> str:
    """The error's text; a key that a branch forbids with ``{"not": {}}`` (Modbus
    ``port`` with ``transport: rtu``) says why instead of "502 should not be valid
    under {}". (A ``false`` schema would say it too, but jsonschema drops its path.)"""
    if error.validator == "not" and error.validator_value == {}:
        return "not used with the other settings chosen here (e.g. the transport): remove it"
    return clip(error.message)


def clip(message: str, limit: int = 300) -> str:
    """jsonschema quotes the offending value whole (a 50 MB name, a huge map): keep the
    start, say how long it was."""
    return message if len(message) <= limit else f"{message[:limit]}... ({len(message)} chars)"


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


# Where schema_problem() runs when not here: the supervisor's ValidatorProcess (a plugin
# install checks the plugin's config schema; jsonschema would stay in the supervisor).
_schema_elsewhere: Callable[[Any], str | None] | None = None


def check_schemas_elsewhere(check: Callable[[Any], str | None] | None) -> None:
    """Run every :func:`schema_problem` of this process through ``check(schema_doc)``
    (None: in this process again)."""
    global _schema_elsewhere
    _schema_elsewhere = check


def schema_problem(schema_doc: Any) -> str | None:
    """Why ``schema_doc`` is not a valid Draft 2020-12 JSON Schema (jsonschema's
    ``check_schema`` message), None if it is one."""
    if _schema_elsewhere is not None:
        return _schema_elsewhere(schema_doc)
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema_doc)
    except jsonschema.SchemaError as exc:
        return str(exc.message)
    return None
