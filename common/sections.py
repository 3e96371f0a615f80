"""Sections of ``edgeos.json`` as dataclasses whose defaults are the schema's.

A default is stated once, as ``default`` in ``config/schemas/edgeos.schema.json``, not
again on a dataclass field: the historian's settings and the supervisor's restart
policy are both built here from their (validated) section.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def section(cls: type[T], key: str, doc: Mapping[str, Any] | None,
            name: str = "edgeos") -> T:
    """The dataclass ``cls`` built from the ``key`` section of ``<name>.json`` (already
    validated; None when absent): each field from ``doc``, else from the schema's
    ``default``. Keys the dataclass does not take are left out; a field neither gives
    keeps the dataclass's own default (state, or a constant that is not configurable)."""
    from edgeos.common import schemas  # jsonschema: loaded where a section is read

    root = schemas.schema(name)
    full = schemas.with_defaults(root["properties"][key], dict(doc or {}), root)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in full.items() if k in fields})
