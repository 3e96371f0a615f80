"""``python -m edgeos.ipc.satellite uplink|gateway``: started by the supervisor with its
spec on stdin, like the broker.

``EDGEOS_SATELLITE_CPROFILE=DIR`` runs the process under cProfile (CPU time of its
main thread) and writes ``DIR/<role>-<pid>.prof`` when it stops: a developer's tool
for where the link's CPU goes (``bench/satellite_cpu.py --profile DIR``)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from edgeos.ipc.child import start_child

TITLES = {"uplink": "edgeos: uplink", "gateway": "edgeos: satellite-gateway"}
PROFILE_ENV = "EDGEOS_SATELLITE_CPROFILE"


def run(role: str) -> int:
    spec = start_child(TITLES[role])
    if role == "uplink":
        from edgeos.ipc.satellite.uplink import Uplink

        return asyncio.run(Uplink(spec).main())
    from edgeos.ipc.satellite.gateway import Gateway

    return asyncio.run(Gateway(spec).main())


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in TITLES:
        print(f"usage: python -m edgeos.ipc.satellite {'|'.join(TITLES)}", file=sys.stderr)
        return 2
    out = os.environ.get(PROFILE_ENV)
    if not out:
        return run(argv[0])
    import cProfile  # a developer's tool: not in every uplink's own pages (issue 16)

    profile = cProfile.Profile(time.thread_time)  # CPU of the event loop, not idle waits
    try:
        return profile.runcall(run, argv[0])
    finally:
        profile.dump_stats(Path(out) / f"{argv[0]}-{os.getpid()}.prof")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
