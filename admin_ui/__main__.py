"""``python -m edgeos.admin_ui``: started by the supervisor with its spec on stdin."""

from __future__ import annotations

import asyncio
import sys

from edgeos.ipc.child import start_child


def main() -> int:
    spec = start_child("edgeos: admin-ui")
    from edgeos.admin_ui.server import serve

    return asyncio.run(serve(spec))


if __name__ == "__main__":
    sys.exit(main())
