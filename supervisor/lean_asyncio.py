"""asyncio for the supervisor, imported without the ``ssl`` module.

asyncio imports ``ssl`` at start-up for TLS transports, and ``ssl`` maps OpenSSL:
about 4 MB of the supervisor's RSS (issue 16). The supervisor never opens a TLS
transport through asyncio (its links are ZeroMQ over ``ipc://``, or CURVE over TCP),
so this module imports asyncio while ``ssl`` is hidden (asyncio copes, as on a Python
built without it) and then un-hides it: code that really needs TLS (checking the
admin UI's certificate at start, Sentry) still imports ``ssl`` when, and only when, it
runs. The workers do the same for types whose manifest says ``"needs_tls": false``.
Import this before anything imports asyncio (the first import of ``supervisor/cli.py``).
"""

from __future__ import annotations

import sys

if "asyncio" not in sys.modules and "ssl" not in sys.modules:
    sys.modules["ssl"] = None  # type: ignore[assignment]  # ImportError for asyncio
    try:
        import asyncio  # noqa: F401
    finally:
        del sys.modules["ssl"]
