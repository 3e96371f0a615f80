"""``python -m edgeos.workers``: the entry point of every worker process.

The supervisor starts it with the instance spec as JSON on stdin. Imports are kept to
what the type needs: a type whose manifest says ``"needs_tls": false`` runs without
the ``ssl`` module (asyncio imports it otherwise, about 5 MB of RSS per worker).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main() -> int:
    spec_doc = json.loads(sys.stdin.read())
    sys.stdin.close()
    return run(spec_doc)


def run(spec_doc: dict[str, Any]) -> int:
    """Run one worker from its spec (also the forkserver's child, see workers/forkserver.py)."""
    extra = spec_doc.get("extra", {})
    if extra.get("no_tls"):
        sys.modules["ssl"] = None  # type: ignore[assignment]  # asyncio copes without it
    import asyncio

    from edgeos.ipc.child import InstanceSpec, die_with_parent, set_title, setup_logging

    die_with_parent()
    spec = InstanceSpec(**spec_doc)
    set_title(f"edgeos: worker {spec.id} [{spec.type}]")
    setup_logging(extra.get("log_level", "INFO"))
    from edgeos.workers import registry
    from edgeos.workers.runtime import Runtime

    if extra.get("path"):  # a plugin's own folder; the core's packages still come first
        sys.path.append(extra["path"])
    worker_cls = registry.load(extra["entry"])
    return asyncio.run(Runtime(spec, worker_cls).main())


if __name__ == "__main__":
    sys.exit(main())
