"""JSON as the standard has it, at every edge where a person or a program hands us some.

Python's :mod:`json` reads ``NaN``, ``Infinity`` and ``1e999`` (which becomes ``inf``)
and writes bare ``NaN``, which no other JSON parser accepts: one such value would break
every page and script that reads it. :func:`loads` refuses non-finite numbers and
documents nested deeper than a limit (a 100,000-level body must be a clear 400, not a
``RecursionError``); :func:`dumps` writes a non-finite number a device reported as
``null``, so the output is always valid JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64


class JsonValueError(ValueError):
    """The text is not JSON we accept; the message says why."""


class NonFiniteError(JsonValueError):
    """The text holds NaN or an infinite number."""


def _no_constant(name: str) -> Any:
    raise NonFiniteError(f"{name} is not a JSON number: only finite numbers are allowed")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFiniteError(f"{text} is out of range: only finite numbers are allowed")
    return value


def depth(doc: Any) -> int:
    """How deeply lists and objects nest in ``doc`` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        stack.extend((child, level) for child in children)
    return deepest


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parse strict JSON: finite numbers only, at most ``max_depth`` levels of nesting.
    Raises :class:`JsonValueError` (a ``ValueError``) naming the problem."""
    try:
        doc = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise JsonValueError(f"nested deeper than {max_depth} levels") from None
    except JsonValueError:
        raise
    except ValueError as exc:
        raise JsonValueError(f"invalid JSON: {exc}") from None
    if depth(doc) > max_depth:
        raise JsonValueError(f"nested deeper than {max_depth} levels")
    return doc


def _finite_only(node: Any) -> Any:
    if isinstance(node, float) and not math.isfinite(node):
        return None
    if isinstance(node, dict):
        return {k: _finite_only(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_finite_only(v) for v in node]
    return node


def dumps(doc: Any, **kwargs: Any) -> str:
    """``json.dumps`` that never writes NaN or Infinity (they become ``null``); the
    common case costs nothing extra."""
    kwargs.setdefault("default", str)
    try:
        return json.dumps(doc, allow_nan=False, **kwargs)
    except ValueError:
        return json.dumps(_finite_only(doc), allow_nan=False, **kwargs)
