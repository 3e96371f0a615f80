"""M-Bus link layer (EN 13757-2): build, check and resynchronise telegrams.

Shared by the decoder, the serial master and the meter emulator, so all three
agree on what a valid frame is.
"""

from __future__ import annotations

from typing import NamedTuple

ACK = 0xE5
SHORT_START = 0x10
LONG_START = 0x68
STOP = 0x16

# Control fields (master to slave)
C_SND_NKE = 0x40
C_SND_UD = 0x53
C_REQ_UD2 = 0x5B
FCB = 0x20
# RSP_UD from a slave: 0x08 plus optional ACD (0x20) and DFC (0x10) bits.
C_RSP_UD_MASK = 0xCF
C_RSP_UD = 0x08

# CI fields
CI_SELECT_SECONDARY = 0x52
CI_RSP_VARIABLE = 0x72
CI_RSP_FIXED = 0x73

ADDRESS_NETWORK = 0xFD  # the slave selected by secondary address
ADDRESS_BROADCAST = 0xFF  # broadcast, no slave answers


class DecodeError(ValueError):
    """A telegram that is not a valid M-Bus frame or carries undecodable data."""


class LongFrame(NamedTuple):
    control: int
    address: int
    ci: int
    data: bytes


def checksum(body: bytes) -> int:
    """Arithmetic sum without carry, as EN 13757-2 defines the frame checksum."""
    return sum(body) & 0xFF


def short_frame(control: int, address: int) -> bytes:
    return bytes((SHORT_START, control, address, checksum(bytes((control, address))), STOP))


def long_frame(control: int, address: int, ci: int, data: bytes = b"") -> bytes:
    body = bytes((control, address, ci)) + data
    if len(body) > 0xFF:
        raise ValueError(f"long frame user data too long ({len(data)} bytes)")
    length = len(body)
    return bytes((LONG_START, length, length, LONG_START)) + body + bytes((checksum(body), STOP))


def parse_long_frame(frame: bytes) -> LongFrame:
    """Check framing, lengths and checksum of `68 L L 68 C A CI ... CS 16`."""
    if len(frame) < 9:
        raise DecodeError(f"frame too short ({len(frame)} bytes, a long frame has at least 9)")
    if frame[0] != LONG_START or frame[3] != LONG_START:
        raise DecodeError(
            f"bad start bytes {frame[0]:02X} .. {frame[3]:02X} (a long frame starts 68 L L 68)"
        )
    if frame[1] != frame[2]:
        raise DecodeError(f"length fields differ ({frame[1]} != {frame[2]})")
    length = frame[1]
    if length < 3:
        raise DecodeError(f"length field {length} is below the minimum of 3")
    if len(frame) != length + 6:
        raise DecodeError(
            f"length mismatch: L={length} needs {length + 6} bytes, got {len(frame)}"
        )
    if frame[-1] != STOP:
        raise DecodeError(f"bad stop byte {frame[-1]:02X} (expected 16)")
    body = frame[4:-2]
    if checksum(body) != frame[-2]:
        raise DecodeError(f"checksum mismatch: frame says {frame[-2]:02X}, "
                          f"computed {checksum(body):02X}")
    return LongFrame(body[0], body[1], body[2], bytes(body[3:]))


def is_rsp_ud(frame: bytes) -> bool:
    return len(frame) >= 9 and frame[0] == LONG_START and frame[4] & C_RSP_UD_MASK == C_RSP_UD


def _frame_size(buf: bytearray) -> int | None:
    """Total size of the frame that buf[0] starts; 0 if it starts none, None if unknown yet."""
    start = buf[0]
    if start == ACK:
        return 1
    if start == SHORT_START:
        return 5
    if start == LONG_START:
        if len(buf) < 4:
            return None
        if buf[1] == buf[2] and buf[1] >= 3 and buf[3] == LONG_START:
            return buf[1] + 6
    return 0


def _is_valid(frame: bytearray) -> bool:
    if frame[0] == ACK:
        return True
    if frame[0] == SHORT_START:
        return frame[4] == STOP and checksum(frame[1:3]) == frame[3]
    return frame[-1] == STOP and checksum(frame[4:-2]) == frame[-2]


def pop_frame(buf: bytearray, *, final: bool = False) -> bytes | None:
    """Remove and return the first valid frame in `buf`, dropping garbage before it.

    Returns None when more bytes are needed. A plausible but incomplete frame
    head normally waits for more data; with `final=True` (no more data will
    come) it is skipped so that a valid frame behind it can still be found.
    """
    while buf:
        size = _frame_size(buf)
        if size is None or len(buf) < size:
            if not final:
                return None
        elif size and _is_valid(buf[:size]):
            frame = bytes(buf[:size])
            del buf[:size]
            return frame
        del buf[0]
    return None
