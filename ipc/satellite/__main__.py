"""``python -m edgeos.ipc.satellite uplink|gateway``: started by the supervisor with its
spec on stdin, like the broker."""

from __future__ import annotations

import asyncio
import sys

from edgeos.ipc.child import start_child

TITLES = {"uplink": "edgeos: uplink", "gateway": "edgeos: satellite-gateway"}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in TITLES:
        print(f"usage: python -m edgeos.ipc.satellite {'|'.join(TITLES)}", file=sys.stderr)
        return 2
    spec = start_child(TITLES[argv[0]])
    if argv[0] == "uplink":
        from edgeos.ipc.satellite.uplink import Uplink

        return asyncio.run(Uplink(spec).main())
    from edgeos.ipc.satellite.gateway import Gateway

    return asyncio.run(Gateway(spec).main())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
