"""Value coercion shared by worker types that write commands to devices."""

from __future__ import annotations

from typing import Any

TRUE_WORDS = frozenset({"true", "1", "on", "yes"})
FALSE_WORDS = frozenset({"false", "0", "off", "no"})


def to_bool(value: Any, kind: str = "boolean") -> bool:
    """A command value as a boolean: bools, 0/1, and the usual words; else ValueError
    naming ``kind`` (the device's own type name, e.g. ``BOOL``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise ValueError(f"{value!r} is not a {kind}")
