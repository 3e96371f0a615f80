"""Helpers of the BMS decoder tests: third-party test data and frame builders.

A uniquely named module rather than conftest.py, so that test modules can import it even when
several test directories with their own conftest.py are collected together.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from edgeos.workers.bms.protocols import ant, daly, jbd

from tests.paths import TESTDATA as ALL_TESTDATA

TESTDATA = ALL_TESTDATA / "bms"


def load_vectors() -> list[dict]:
    return json.loads((TESTDATA / "vectors.json").read_text(encoding="utf-8"))["vectors"]


_MARKED = re.compile(r"(>>>|<<<)\s*(.*?)\s*(?=>>>|<<<|$)")


def read_capture(path: Path) -> list[tuple[str, str]]:
    """(direction, hex text) for each ``>>>``/``<<<`` entry of a capture, in file order."""
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entries += [(m.group(1), m.group(2)) for m in _MARKED.finditer(line) if m.group(2)]
    return entries


def jbd_frame(command: int, payload: bytes, status: int = 0) -> bytes:
    body = bytes((status, len(payload))) + payload
    return bytes((0xDD, command)) + body + jbd.checksum(body).to_bytes(2, "big") + b"\x77"


def daly_frame(command: int, data: bytes, address: int = 0x01) -> bytes:
    body = bytes((0xA5, address, command, 8)) + data.ljust(8, b"\0")[:8]
    return body + bytes((daly.checksum(body),))


def ant_frame(function: int, data: bytes, address: int = 0) -> bytes:
    body = bytes((0xA1, function)) + address.to_bytes(2, "little") + bytes((len(data),)) + data
    return b"\x7e" + body + ant.crc16_modbus(body).to_bytes(2, "little") + b"\xaa\x55"


def ant_legacy_seal(frame: bytes) -> bytes:
    """A 140-byte legacy frame with its checksum made right."""
    return frame[:138] + (sum(frame[4:138]) & 0xFFFF).to_bytes(2, "big")


def reseal(protocol: str, frame: bytes) -> bytes:
    """Fix length/checksum/end bytes of a (mutated) frame so it passes the frame checks."""
    if protocol == "jbd":
        return jbd_frame(frame[1], frame[4:-3], frame[2])
    if protocol == "daly":
        return daly_frame(frame[2], frame[4:12], frame[1])
    if frame.startswith(ant.LEGACY_START):
        return ant_legacy_seal(frame)
    return ant_frame(frame[2], frame[6:-4], int.from_bytes(frame[3:5], "little"))
