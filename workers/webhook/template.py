"""The request a routed value turns into: placeholders in the URL and the body.

``{address}``, ``{source}`` (where the routed value came from), ``{path}``, ``{id}``,
``{ts}`` (ms) and ``{value}`` (as JSON: ``true``,
``21.5``, ``"text"``, so it drops straight into a JSON body) or ``{value_text}`` (strings
bare). Only these exact tokens are replaced, so JSON braces in a template need no
escaping. Without a ``body`` template the body is ``{"address", "value", "ts"}``.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

_TOKEN = re.compile(r"\{(address|source|path|id|ts|value|value_text)\}")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def fields(instance: str, path: str, value: Any, ts: int, source: str = "") -> dict[str, str]:
    """The placeholder values for one routed value."""
    return {"address": f"{instance}.{path}" if path else instance, "source": source,
            "path": path,
            "id": instance, "ts": str(ts), "value": _json(value),
            "value_text": value if isinstance(value, str) else _json(value)}


def render(template: str, values: dict[str, str], url: bool = False) -> str:
    """``template`` with its placeholders filled in (URL-quoted when ``url``)."""
    return _TOKEN.sub(lambda m: quote(values[m[1]], safe="") if url else values[m[1]],
                      template)


def body(template: str | None, values: dict[str, str]) -> bytes:
    if template is None:
        address = _json(values["address"])
        return f'{{"address":{address},"value":{values["value"]},"ts":{values["ts"]}}}'.encode()
    return render(template, values).encode()
