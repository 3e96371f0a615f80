"""``python -m edgeos.ipc.historian``: started by the supervisor with its spec on stdin."""

from __future__ import annotations

import asyncio
import sys

from edgeos.ipc.child import start_child


def main() -> int:
    spec = start_child("edgeos: historian")
    from edgeos.ipc.historian.service import Historian

    return asyncio.run(Historian(spec).main())


if __name__ == "__main__":
    sys.exit(main())
