"""Helpers of the BMS transport tests: captured frames and a device emulator for a pty.

A uniquely named module rather than conftest.py, so test modules can import it whatever else
is collected in the same run.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import threading
import time
from pathlib import Path

# tests/data/bms (tests.paths.TESTDATA), spelled out: bms_pty_device.py runs this
# module as a script, where the tests package is not importable
TESTDATA = Path(__file__).resolve().parents[2] / "data" / "bms"


def vectors() -> dict[str, dict]:
    data = json.loads((TESTDATA / "vectors.json").read_text(encoding="utf-8"))
    return {v["id"]: v for v in data["vectors"]}


def hex_frames(vector: dict) -> bytes:
    return b"".join(bytes.fromhex(h) for h in vector.get("frames_hex") or [vector["frame_hex"]])


class DeviceEmulator:
    """The BMS end of a pty: answers each known request by replaying captured frames.

    ``answers`` maps a request to the replies it gets in turn (cycling); a reply is written
    in two pieces so the transport has to reassemble it. ``silent`` stops all answers.
    """

    def __init__(self, fd: int, answers: dict[bytes, list[bytes]]) -> None:
        self.fd = fd
        self.silent = False
        self.requests: list[bytes] = []
        self._answers = {request: itertools.cycle(replies) for request, replies in answers.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bms-emulator")

    def __enter__(self) -> DeviceEmulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        pending = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.02)
            if not ready:
                continue
            pending = (pending + os.read(self.fd, 1024))[-256:]
            for request, replies in self._answers.items():
                if request in pending:
                    pending = pending.split(request, 1)[1]
                    self.requests.append(request)
                    if not self.silent:
                        self._write(next(replies))

    def _write(self, reply: bytes) -> None:
        half = len(reply) // 2
        os.write(self.fd, reply[:half])
        time.sleep(0.005)
        os.write(self.fd, reply[half:])
