"""``python -m edgeos.ipc.historian``: started by the supervisor with its spec on stdin."""

from __future__ import annotations

import asyncio
import sys

from edgeos.ipc.child import die_with_parent, read_spec, set_title, setup_logging


def main() -> int:
    die_with_parent()
    spec = read_spec()
    set_title("edgeos: historian")
    setup_logging(spec.extra.get("log_level", "INFO"))
    from edgeos.ipc.historian.service import Historian

    return asyncio.run(Historian(spec).main())


if __name__ == "__main__":
    sys.exit(main())
