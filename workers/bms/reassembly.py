"""Cut a byte stream (BLE notifications, serial reads) into whole frames.

BLE delivers a JBD or ANT answer in 20-byte notifications, a serial read may end anywhere
and a line may carry noise or an echo. :class:`Reassembler` buffers, resynchronises on the
next start marker after garbage or a corrupt candidate, and hands out only frames that pass
the protocol's checks. :func:`split_frames` is the strict variant for input that must be
back-to-back frames, such as the CLI's arguments.
"""

from __future__ import annotations

import logging

from .errors import DecodeError
from .protocols import Framing, get

log = logging.getLogger(__name__)


def framing_of(protocol: str) -> Framing:
    framing = get(protocol).FRAMING
    if framing is None:
        raise ValueError(f"{protocol} data are not a byte stream; there is nothing to reassemble")
    return framing


class Reassembler:
    """Incremental framer for one protocol: ``feed(chunk)`` returns the frames it completed."""

    def __init__(self, protocol: str) -> None:
        self._framing = framing_of(protocol)
        self._buffer = bytearray()
        self.last_error: str | None = None
        """Why the latest candidate frame was thrown away, for timeout messages."""

    def reset(self) -> None:
        self._buffer.clear()

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        frames: list[bytes] = []
        while (frame := self._next_frame()) is not None:
            frames.append(frame)
        return frames

    def _next_frame(self) -> bytes | None:
        framing = self._framing
        while True:
            start = self._find_start()
            if start < 0:
                keep = max(len(marker) for marker in framing.starts) - 1
                del self._buffer[: max(0, len(self._buffer) - keep)]
                return None
            del self._buffer[:start]
            if len(self._buffer) < framing.header:
                return None
            length = framing.length(bytes(self._buffer[: framing.header]))
            if length > framing.max_length or length < framing.header:
                self._drop(f"impossible frame length {length}")
                continue
            if len(self._buffer) < length:
                return None
            candidate = bytes(self._buffer[:length])
            try:
                framing.check(candidate)
            except DecodeError as err:
                self._drop(str(err))
                continue
            del self._buffer[:length]
            return candidate

    def _find_start(self) -> int:
        """Offset of the earliest start marker, or of a marker's beginning at the very end."""
        found = [i for marker in self._framing.starts if (i := self._buffer.find(marker)) >= 0]
        if found:
            return min(found)
        for marker in self._framing.starts:
            for size in range(len(marker) - 1, 0, -1):
                if self._buffer.endswith(marker[:size]):
                    return len(self._buffer) - size
        return -1

    def _drop(self, reason: str) -> None:
        """Skip the start byte of a bad candidate so the search resumes right after it."""
        log.debug("discarding candidate frame: %s", reason)
        self.last_error = reason
        del self._buffer[:1]


def split_frames(protocol: str, data: bytes) -> list[bytes]:
    """Split input that must consist of whole, intact frames back to back.

    Unlike :class:`Reassembler` nothing is skipped: the first corrupt frame or stray byte
    raises DecodeError with its reason.
    """
    framing = framing_of(protocol)
    frames: list[bytes] = []
    offset = 0
    while offset < len(data):
        rest = data[offset:]
        if not any(rest.startswith(marker) for marker in framing.starts):
            markers = " or ".join(marker.hex(" ").upper() for marker in framing.starts)
            raise DecodeError(
                f"expected a {protocol} frame start ({markers}) at byte {offset}, "
                f"found {rest[:4].hex(' ').upper()}"
            )
        if len(rest) < framing.header:
            raise DecodeError(f"truncated {protocol} frame at byte {offset}: {len(rest)} bytes")
        length = framing.length(rest[: framing.header])
        if len(rest) < length:
            raise DecodeError(
                f"truncated {protocol} frame at byte {offset}: its header announces "
                f"{length} bytes, {len(rest)} present"
            )
        framing.check(rest[:length])
        frames.append(rest[:length])
        offset += length
    return frames
