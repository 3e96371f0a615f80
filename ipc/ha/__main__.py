"""``python -m edgeos.ipc.ha mirror``: started by the supervisor with its spec on stdin."""

from __future__ import annotations

import asyncio
import sys

from edgeos.ipc.child import die_with_parent, read_spec, set_title, setup_logging


def main(argv: list[str]) -> int:
    if argv != ["mirror"]:
        print("usage: python -m edgeos.ipc.ha mirror", file=sys.stderr)
        return 2
    die_with_parent()
    spec = read_spec()
    set_title("edgeos: ha-mirror")
    setup_logging(spec.extra.get("log_level", "INFO"))
    from edgeos.ipc.ha.mirror import Mirror

    return asyncio.run(Mirror(spec).main())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
