"""A JBD BMS on a pty as its own process, for end-to-end tests of the ``bms`` worker.

    python bms_pty_device.py --pty-link PATH --capture FILE

Replays the answers of a capture (``>>> request <<< reply`` lines) through
:class:`bms_link_support.DeviceEmulator`, prints ``ready <pty>`` once serving; SIGUSR1 toggles
silence, SIGTERM/SIGINT stop it and remove the link. It dies with its parent, so it never
outlives the test that started it.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import tty
from pathlib import Path

from bms_link_support import DeviceEmulator

PR_SET_PDEATHSIG = 1


def capture_answers(path: Path) -> dict[bytes, list[bytes]]:
    """Request -> replies in capture order (the emulator cycles through them)."""
    answers: dict[bytes, list[bytes]] = {}
    for line in path.read_text().splitlines():
        request, _, reply = line.removeprefix(">>> ").partition(" <<< ")
        answers.setdefault(bytes.fromhex(request.replace(":", "")), []).append(
            bytes.fromhex(reply.replace(":", "")))
    return answers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pty-link", required=True, type=Path)
    parser.add_argument("--capture", required=True, type=Path)
    args = parser.parse_args()
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    stops = {signal.SIGTERM, signal.SIGINT}
    # blocked before the emulator thread starts, so only sigwait below sees them
    signal.pthread_sigmask(signal.SIG_BLOCK, {*stops, signal.SIGUSR1})
    master, slave = os.openpty()
    tty.setraw(slave)
    args.pty_link.unlink(missing_ok=True)
    args.pty_link.symlink_to(os.ttyname(slave))
    try:
        with DeviceEmulator(master, capture_answers(args.capture)) as device:
            print(f"ready {os.ttyname(slave)}", flush=True)
            while signal.sigwait({*stops, signal.SIGUSR1}) not in stops:
                device.silent = not device.silent
    finally:
        args.pty_link.unlink(missing_ok=True)
        os.close(slave)
        os.close(master)
    return 0


if __name__ == "__main__":
    sys.exit(main())
