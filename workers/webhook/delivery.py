"""One HTTP request with the standard library, run in a thread by the worker."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

RETRY_STATUS = frozenset({408, 425, 429})  # plus every 5xx


@dataclass
class Outcome:
    ok: bool
    retry: bool  # a later attempt may succeed (network error, 5xx, 429...)
    detail: str
    status: int | None = None


def send(url: str, method: str, headers: dict[str, str], data: bytes | None,
         timeout: float) -> Outcome:
    """Blocking: perform the request and classify the result."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
            return Outcome(True, False, f"HTTP {resp.status}", resp.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        retry = exc.code >= 500 or exc.code in RETRY_STATUS
        return Outcome(False, retry, f"HTTP {exc.code} {exc.reason}", exc.code)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Outcome(False, not isinstance(exc, ValueError), f"{type(exc).__name__}: {reason}")
