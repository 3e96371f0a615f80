"""Protocol registry and the pieces every decoder module shares.

Each protocol module (``jbd``, ``daly``, ``ant``, ``victron``) provides:

- ``decode(frames, options) -> Reading``: merge the readings of whole frames; raises only
  :class:`~edgeos.workers.bms.errors.DecodeError`.
- ``FRAMING``: how to find frames in a byte stream (``None`` for Victron, whose data are
  BLE advertisements, not a stream).
- ``poll_plan(link, options) -> list[Request]``: the requests of one poll cycle over a
  ``"serial"`` or ``"ble"`` link (not for Victron, which only advertises).

Modules are imported on first use, so importing the package pulls in no crypto library.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType

from ..errors import DecodeError
from ..model import Reading

NAMES = ("jbd", "daly", "ant", "victron")
LINKS = ("serial", "ble")


@dataclass(frozen=True)
class Options:
    """Decoder and poll options that differ between installations, not between frames."""

    key: bytes | None = None
    """Victron: the device's 16-byte AES key (VictronConnect, Product info, Instant readout)."""
    daly_current_sign: int = 1
    """Daly: +1 reads raw > 30000 as charging (as the test vectors do); -1 flips it for
    firmware that counts the other way."""
    ant_variant: str = "2021"
    """ANT: which request a poll sends, ``"2021"`` (7E A1) or ``"legacy"`` (2019, AA 55 AA FF).
    Decoding recognises both by their start bytes regardless."""

    def __post_init__(self) -> None:
        if self.daly_current_sign not in (1, -1):
            raise ValueError(f"daly_current_sign must be 1 or -1, not {self.daly_current_sign!r}")
        if self.ant_variant not in ("2021", "legacy"):
            raise ValueError(f"ant_variant must be '2021' or 'legacy', not {self.ant_variant!r}")


def _any_frame(frame: bytes) -> bool:
    return True


@dataclass(frozen=True)
class Request:
    """One request of a poll cycle, how many response frames it brings and which they are."""

    data: bytes
    frames: int | Callable[[Reading], int] = 1
    """A count, or a function of what the cycle decoded so far (Daly: cells per 0x94)."""
    accepts: Callable[[bytes], bool] = _any_frame
    """Whether a verified frame answers this request; others (a late answer to an earlier
    request, an echo) are ignored."""

    def expected_frames(self, reading: Reading) -> int:
        return self.frames if isinstance(self.frames, int) else self.frames(reading)

    def answered_by(self, frame: bytes) -> bool:
        return frame != self.data and self.accepts(frame)


@dataclass(frozen=True)
class Framing:
    """Where frames start, how long they are and how to verify one, for reassembly."""

    starts: tuple[bytes, ...]
    header: int
    """Bytes needed before ``length`` can tell the frame's total length."""
    length: Callable[[bytes], int]
    check: Callable[[bytes], None]
    """Raises DecodeError with the reason when a candidate frame is corrupt."""
    max_length: int


def check_sum(what: str, sent: int, computed: int, digits: int = 4) -> None:
    """DecodeError naming both values when a frame's checksum (``what``) does not match."""
    if sent != computed:
        raise DecodeError(f"{what} mismatch: frame says 0x{sent:0{digits}X}, "
                          f"computed 0x{computed:0{digits}X}")


def check_length(name: str, frame: bytes, declared: int, total: int, unit: str) -> None:
    """DecodeError when a frame is not as long as its length byte (``declared``) says."""
    if len(frame) != total:
        raise DecodeError(f"{name} length mismatch: length byte says {declared} {unit} bytes "
                          f"({total} in all), frame has {len(frame)}")


def get(name: str) -> ModuleType:
    """The decoder module for a protocol name; ValueError for an unknown one."""
    if name not in NAMES:
        raise ValueError(f"unknown BMS protocol {name!r}; known: {', '.join(NAMES)}")
    return importlib.import_module(f"{__name__}.{name}")


def decode(protocol: str, frames: Sequence[bytes], options: Options | None = None) -> Reading:
    """Decode and merge whole frames of one protocol into one flat reading."""
    return get(protocol).decode(frames, options or Options())
