"""Blob datapoints for tests: a small PNG, published to the broker as a worker would."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import zmq
from edgeos.ipc import addresses, protocol


def png(width: int, height: int) -> bytes:
    """A small red PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def send_blob(run_dir: Path, source: str, path: str, data: bytes) -> None:
    """Publish a blob to the broker as the worker ``source`` would (runtime.publish_blob)."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, source.encode())
    sock.setsockopt(zmq.LINGER, 1000)
    sock.connect(addresses.endpoint(run_dir, addresses.BROKER))
    header = protocol.pack([path, protocol.now_ms(), "good", True, None])
    sock.send_multipart([protocol.BLOB, header, data])
    sock.close()
    ctx.term()
