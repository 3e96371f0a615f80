"""Reading ``<data>/state.json``, the persisted system mode, fail safe.

The file is written atomically (:func:`edgeos.common.files.atomic_write_json`), so
a torn write cannot happen through us; a file that is corrupt anyway (a disk fault, a
hand edit, a truncated copy) must never start the devices. So:

- no file: ``normal`` (first start);
- a valid ``{"mode": "normal" | "panic", ...}``: that mode;
- content that is not such a document: ``panic``, with a one-line reason to log;
- a file that cannot be read at all (permissions, I/O error): :class:`StateUnreadable`,
  which the daemon reports as a one-line error at start (CONTRACT section 2).
"""

from __future__ import annotations

import json
from pathlib import Path

MODES = ("normal", "panic")
MAX_STATE_BYTES = 64 * 1024  # a mode record is ~200 bytes


class StateUnreadable(Exception):
    """The state file exists but cannot be read; the message is one line."""


def read_mode(path: Path) -> tuple[str, str | None]:
    """The persisted mode and, when the file was refused, why (one line)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_STATE_BYTES + 1)
    except FileNotFoundError:
        return "normal", None
    except OSError as exc:
        raise StateUnreadable(f"{path}: cannot read the state file: {exc.strerror}") from None
    reason = refusal(raw)
    return ("panic", f"{path}: {reason}") if reason else (json.loads(raw)["mode"], None)


def refusal(raw: bytes) -> str | None:
    """Why ``raw`` is not a valid state document, or None."""
    if len(raw) > MAX_STATE_BYTES:
        return f"larger than {MAX_STATE_BYTES} bytes"
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except ValueError as exc:
        return f"invalid JSON ({exc})"
    if not isinstance(doc, dict):
        return f"expected an object with a 'mode', got {type(doc).__name__}"
    mode = doc.get("mode")
    if mode not in MODES:
        return f"mode must be 'normal' or 'panic', got {json.dumps(mode)[:40]}"
    return None
