"""Serial M-Bus master: request/response over pyserial, per-meter circuit breaker, poller.

Reliability rules taken over from the M-Bus MQTT gateway v2 (planning summary):
- a deadline on every read, so a silent meter or a noisy line never hangs the worker;
- garbage and echoes on the line are skipped until a valid frame (resynchronisation);
- a circuit breaker per meter with exponential back-off: an offline meter is skipped
  until its retry time while the others keep being read;
- a broken port is closed and reopened on the next request (automatic port recovery);
- blocking serial I/O runs in a single worker thread, so asyncio callers stay responsive.

`serial.serial_for_url` is used to open the port, so pty paths and `loop://` work too.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import termios  # pty/tty failures (EIO, EINVAL) surface as termios.error
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import serial
from edgeos.workers.mbus.decoder import DecodeError, decode
from edgeos.workers.mbus.decoder.frame import (
    ACK,
    ADDRESS_NETWORK,
    C_REQ_UD2,
    C_SND_NKE,
    C_SND_UD,
    CI_SELECT_SECONDARY,
    is_rsp_ud,
    long_frame,
    pop_frame,
    short_frame,
)
from edgeos.workers.modbus.breaker import CircuitBreaker as Breaker

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 261  # 68 L L 68 + 255 + CS 16
READ_SLICE_S = 0.02  # granularity of the read loop; every wait is bounded by a deadline
_SECONDARY_RE = re.compile(r"[0-9A-Fa-f]{16}")


class MBusError(Exception):
    """A request failed: no answer, no valid frame, or an undecodable answer."""


class MBusTimeout(MBusError):
    """Nothing usable arrived before the deadline."""


class PortError(MBusError):
    """The serial port failed; it is closed and reopened on the next request."""


def secondary_mask(secondary: str) -> bytes:
    """The 8 selection bytes for a libmbus-style secondary address (16 hex digits).

    Digits 1-8 are the identification number (F = wildcard digit), then manufacturer
    (2 bytes as sent by the meter), version and medium (FF = wildcard).
    """
    if not _SECONDARY_RE.fullmatch(secondary):
        raise ValueError(f"secondary address must be 16 hex digits, got {secondary!r}")
    return bytes.fromhex(secondary[:8])[::-1] + bytes.fromhex(secondary[8:])


@dataclass(frozen=True)
class Meter:
    """One meter on the bus, addressed by primary address or by secondary address."""

    address: int | None = None
    secondary: str | None = None

    def __post_init__(self) -> None:
        if (self.address is None) == (self.secondary is None):
            raise ValueError("a meter needs exactly one of 'address' or 'secondary'")
        if self.address is not None and not 0 <= self.address <= 250:
            raise ValueError(f"primary address must be 0..250, got {self.address}")
        if self.secondary is not None:
            secondary_mask(self.secondary)
            object.__setattr__(self, "secondary", self.secondary.upper())

    @classmethod
    def from_config(cls, entry: dict[str, Any]) -> Meter:
        """Build from a `meters` entry of the `mbus` instance config: {address} or {secondary}."""
        return cls(address=entry.get("address"), secondary=entry.get("secondary"))

    @property
    def key(self) -> str:
        return f"secondary:{self.secondary}" if self.secondary else f"primary:{self.address}"


class Master:
    """Blocking M-Bus master on one serial line; one request at a time, not thread-safe.

    REQ_UD2 is sent with a constant FCB, as libmbus does; a "more records follow"
    trailer (DIF 0x1F) is reported as a record, not followed by further requests.
    """

    def __init__(self, port: str, baudrate: int = 2400, timeout_s: float = 1.0, *,
                 retries: int = 1,
                 serial_factory: Callable[..., serial.SerialBase] = serial.serial_for_url
                 ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.port = port
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.retries = retries
        self._serial_factory = serial_factory
        self._serial: serial.SerialBase | None = None
        char_s = 11 / baudrate  # 8E1: start + 8 data + parity + stop
        self._frame_s = MAX_FRAME_BYTES * char_s
        self._idle_s = max(0.1, 50 * char_s)

    def __enter__(self) -> Master:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        if self._serial is not None:
            return
        try:
            self._serial = self._serial_factory(
                self.port, baudrate=self.baudrate, bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_EVEN, stopbits=serial.STOPBITS_ONE,
                timeout=READ_SLICE_S, write_timeout=self.timeout_s + self._frame_s)
        except (serial.SerialException, OSError, termios.error, ValueError) as exc:
            raise PortError(f"cannot open {self.port}: {exc}") from exc
        log.info("opened M-Bus port %s at %d baud", self.port, self.baudrate)

    def close(self) -> None:
        if self._serial is not None:
            port, self._serial = self._serial, None
            try:
                port.close()
            except (serial.SerialException, OSError, termios.error) as exc:
                log.debug("closing %s: %s", self.port, exc)

    # -- requests ------------------------------------------------------------------

    def snd_nke(self, address: int) -> None:
        """Reset (initialise) a slave; it must confirm with a single-character ACK."""
        self._request(short_frame(C_SND_NKE, address), _is_ack, f"SND_NKE to {address}")

    def select_secondary(self, secondary: str) -> None:
        """Select one slave by secondary address; later requests to address 0xFD reach it."""
        frame = long_frame(C_SND_UD, ADDRESS_NETWORK, CI_SELECT_SECONDARY,
                           secondary_mask(secondary))
        self._request(frame, _is_ack, f"select {secondary}")

    def req_ud2(self, address: int) -> bytes:
        """Request class 2 user data; returns the raw RSP_UD long frame."""
        return self._request(short_frame(C_REQ_UD2, address), is_rsp_ud, f"REQ_UD2 to {address}")

    def read(self, meter: Meter) -> dict[str, Any]:
        """Read and decode one meter, selecting it first if it is addressed by secondary."""
        if meter.secondary is not None:
            self.select_secondary(meter.secondary)
            raw = self.req_ud2(ADDRESS_NETWORK)
        else:
            assert meter.address is not None
            raw = self.req_ud2(meter.address)
        try:
            return decode(raw)
        except DecodeError as exc:  # valid framing, undecodable data
            raise MBusError(f"{meter.key}: {exc}") from exc

    # -- link layer ----------------------------------------------------------------

    def _request(self, frame: bytes, accept: Callable[[bytes], bool], what: str) -> bytes:
        last = MBusTimeout("no attempt made")  # replaced: there is always one attempt
        for attempt in range(self.retries + 1):
            try:
                return self._transact(frame, accept)
            except PortError:
                raise
            except MBusError as exc:
                last = exc
                log.debug("%s: attempt %d failed: %s", what, attempt + 1, exc)
        raise type(last)(f"{what}: {last}") from last

    def _transact(self, frame: bytes, accept: Callable[[bytes], bool]) -> bytes:
        self.open()
        assert self._serial is not None
        try:
            self._serial.reset_input_buffer()  # drop late answers to earlier requests
            self._serial.write(frame)
            self._serial.flush()
            return self._receive(self._serial, accept)
        except (serial.SerialException, OSError, termios.error) as exc:
            self.close()
            raise PortError(f"serial port {self.port}: {exc}") from exc

    def _receive(self, port: serial.SerialBase, accept: Callable[[bytes], bool]) -> bytes:
        """Collect bytes until an acceptable frame arrives or the deadline passes.

        The deadline starts at timeout_s and is pushed back while bytes keep coming
        (a full frame at 2400 baud takes ~1.2 s), but never past the time a maximal
        frame needs, so a noisy line cannot keep us waiting. When the line goes quiet
        the buffer is searched once more without waiting for frames that a garbage
        byte only seemed to start.
        """
        buf = bytearray()
        received = 0
        last_rx = 0.0  # only read while buf holds bytes, i.e. after the first chunk
        deadline = time.monotonic() + self.timeout_s
        hard_deadline = deadline + self._frame_s
        while True:
            frame = self._pop_accepted(buf, accept, final=False)
            now = time.monotonic()
            if frame is None and buf and now - last_rx >= self._idle_s:
                frame = self._pop_accepted(buf, accept, final=True)
            if frame is not None:
                return frame
            if now >= deadline:
                break
            chunk = port.read(max(1, port.in_waiting))
            if chunk:
                buf += chunk
                received += len(chunk)
                last_rx = time.monotonic()
                deadline = min(hard_deadline, max(deadline, last_rx + self._idle_s))
        frame = self._pop_accepted(buf, accept, final=True)
        if frame is not None:
            return frame
        if received:
            raise MBusError(f"no valid answer in {received} received byte(s)")
        raise MBusTimeout(f"no answer within {self.timeout_s:g} s")

    @staticmethod
    def _pop_accepted(buf: bytearray, accept: Callable[[bytes], bool], *,
                      final: bool) -> bytes | None:
        while (frame := pop_frame(buf, final=final)) is not None:
            if accept(frame):
                return frame
            log.debug("skipping unexpected frame %s", frame.hex(" "))
        return None


def _is_ack(frame: bytes) -> bool:
    return frame == bytes((ACK,))


class CircuitBreaker:
    """One :class:`~edgeos.workers.modbus.breaker.CircuitBreaker` per meter key, kept
    only while that meter fails: a dead meter is skipped for ``base_delay_s``, doubling
    up to ``max_delay_s`` while its retries fail; one success closes it.
    The clock is injectable so tests run without sleeping.
    """

    def __init__(self, threshold: int = 3, base_delay_s: float = 10.0,
                 max_delay_s: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._make = functools.partial(Breaker, threshold, base_delay_s, max_delay_s, clock)
        self._make()  # a bad threshold fails here, not at the first failure
        self._keys: dict[str, Breaker] = {}

    def allow(self, key: str) -> bool:
        """True if the key is closed, or open but due for a retry (half-open)."""
        return key not in self._keys or self._keys[key].allow()

    def state(self, key: str) -> str:
        return self._keys[key].state if key in self._keys else "closed"

    def retry_at(self, key: str) -> float | None:
        return self._keys[key].retry_at if key in self._keys else None

    def record_success(self, key: str) -> None:
        breaker = self._keys.pop(key, None)
        if breaker is not None and breaker.retry_at is not None:
            log.info("%s answers again; circuit closed", key)

    def record_failure(self, key: str) -> None:
        breaker = self._keys.setdefault(key, self._make())
        breaker.record_failure()
        if breaker.retry_at is not None:
            log.warning("%s failed %d time(s) in a row; skipped for %.0f s", key,
                        breaker.failures, breaker.retry_in())


@dataclass
class Reading:
    """Outcome of one meter in one polling round."""

    meter: Meter
    data: dict[str, Any] | None = None
    error: str | None = None
    skipped: bool = False  # circuit open: the meter was not asked this round

    @property
    def ok(self) -> bool:
        return self.data is not None


class Poller:
    """Reads a list of meters through one Master, guarded by a CircuitBreaker."""

    def __init__(self, master: Master, meters: Iterable[Meter],
                 breaker: CircuitBreaker | None = None) -> None:
        self.master = master
        self.meters = list(meters)
        self.breaker = breaker or CircuitBreaker()
        self._executor: ThreadPoolExecutor | None = None

    def poll_meter(self, meter: Meter) -> Reading:
        if not self.breaker.allow(meter.key):
            return Reading(meter, skipped=True,
                           error=f"circuit open until {self.breaker.retry_at(meter.key):.1f}")
        try:
            data = self.master.read(meter)
        except PortError as exc:
            # Not the meter's fault: do not trip its breaker; the port reopens next time.
            log.warning("%s", exc)
            return Reading(meter, error=str(exc))
        except MBusError as exc:
            log.info("%s: %s", meter.key, exc)
            self.breaker.record_failure(meter.key)
            return Reading(meter, error=str(exc))
        self.breaker.record_success(meter.key)
        return Reading(meter, data=data)

    def poll_once(self) -> list[Reading]:
        """Blocking: one round over all meters."""
        return [self.poll_meter(meter) for meter in self.meters]

    async def apoll_once(self) -> list[Reading]:
        """One round over all meters; serial I/O runs in the poller's I/O thread."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mbus-io")
        loop = asyncio.get_running_loop()
        return [await loop.run_in_executor(self._executor, self.poll_meter, meter)
                for meter in self.meters]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self.master.close()
