"""MQTT payloads <-> datapoint values.

Payloads carry no type, so decoding guesses the way users expect: ``21.5`` is a number,
``true`` a bool, ``{"a": 1}`` an object, anything that is not JSON stays text. Encoding
is the inverse: text goes out as is, everything else as JSON.
"""

from __future__ import annotations

import json
from typing import Any

FORMATS = ("auto", "json", "text")


def decode(payload: bytes, fmt: str = "auto") -> Any:
    """The value of a received payload; an empty payload is ``None``.

    ``fmt`` ``text`` never parses, ``json`` raises ``ValueError`` on anything but JSON.
    """
    if not payload:
        return None
    text = payload.decode("utf-8", "replace")
    if fmt == "text":
        return text
    try:
        return json.loads(text)
    except ValueError:
        if fmt == "json":
            raise
        return text


def encode(value: Any) -> bytes:
    """The payload for a value: strings and bytes verbatim, everything else as JSON."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def extract(doc: Any, path: str) -> Any:
    """The member of ``doc`` at a dotted ``path`` (``data.temp``, ``sensors.0.value``).

    Raises ``KeyError`` when the path does not exist in this document.
    """
    node = doc
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(
                part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(path)
    return node
