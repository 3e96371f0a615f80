"""``edgectl passwd`` on the host when no daemon answers: the lost admin password's
way back.

With a daemon running, ``passwd`` goes through its control socket (audited, open
sessions end at once). Without one, edgectl writes the auth store itself in the data
dir (``--data``, env ``EDGEOS_DATA``, default ``./data``; ``make run`` uses
``var/data``) by the store's own rules: an exclusive ``flock`` around
read-modify-write, an atomic replace, mode 0600. A daemon started later, or one running
with another run dir, reads the new password from the file (the admin UI re-reads the
store when it changes).
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from edgeos.supervisor.auth_commands import set_admin_password
from edgeos.supervisor.paths import Paths

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def listening(path: Path) -> bool:
    """Whether a daemon accepts on the control socket at ``path``: a socket file left by
    a daemon that is gone refuses at once (ZeroMQ would wait for it)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def data_dir(arg: str | None) -> Path:
    return Paths.resolve(None, arg, None).data


def offline(args: argparse.Namespace, password: str, why: str) -> int:
    """Set the admin password in the data dir's store; a missing data dir is refused
    with what to type instead (a typo must not create a store nobody reads)."""
    directory = data_dir(args.data)
    if not directory.is_dir():
        print(f"edgectl: {why}, and no data dir {directory} to set the password in "
              "offline: give the daemon's data dir with --data (make run uses var/data)",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        store = set_admin_password(directory, password)
    except ValueError as exc:  # the store's AuthError: too short, ...
        print(f"edgectl: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"{why}: password of admin set in {store} "
          "(an admin UI running on it takes it at the next login)")
    return EXIT_OK
