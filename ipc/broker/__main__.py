"""``python -m edgeos.ipc.broker``: started by the supervisor with its spec on stdin."""

from __future__ import annotations

import asyncio
import sys

from edgeos.ipc.child import start_child


def main() -> int:
    spec = start_child("edgeos: broker")
    from edgeos.ipc.broker.broker import Broker

    return asyncio.run(Broker(spec).main())


if __name__ == "__main__":
    sys.exit(main())
