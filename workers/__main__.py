"""``python -m workers``: the entry point of every worker process.

The supervisor starts it with the instance spec as JSON on stdin.
"""

from __future__ import annotations

import asyncio
import sys

from ipc.child import die_with_parent, read_spec, set_title, setup_logging


def main() -> int:
    die_with_parent()
    spec = read_spec()
    set_title(f"edgeos: worker {spec.id} [{spec.type}]")
    setup_logging(spec.extra.get("log_level", "INFO"))
    from workers import registry
    from workers.runtime import Runtime

    worker_cls = registry.load(spec.type)
    return asyncio.run(Runtime(spec, worker_cls).main())


if __name__ == "__main__":
    sys.exit(main())
