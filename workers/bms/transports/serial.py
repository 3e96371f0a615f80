"""RS485/UART transport on pyserial: request, then read frames with a deadline.

Any pyserial URL works (``/dev/ttyUSB0``, a pty path, ``loop://``, ``rfc2217://``). Every
read is bounded, so a silent BMS gives :class:`BmsTimeout` and never a hang. An echo of
our own request (half-duplex RS485 adapters, ``loop://``) is ignored.
"""

from __future__ import annotations

import asyncio
import logging
import termios  # pty/tty failures (EIO, EINVAL) surface as termios.error
import time

import serial

from ..errors import BmsTimeout, TransportError
from ..protocols import Options, Request
from ..reassembly import Reassembler
from . import DEFAULT_TIMEOUT_S, RequestResponse

log = logging.getLogger(__name__)

DEFAULT_BAUDRATE = {"jbd": 9600, "daly": 9600, "ant": 19200}
READ_SLICE_S = 0.05  # longest single blocking read; bounds the overshoot past the deadline


class SerialTransport(RequestResponse):
    """Polls a JBD, Daly or ANT BMS over a serial line."""

    def __init__(
        self,
        port: str,
        protocol: str,
        *,
        baudrate: int | None = None,
        options: Options | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        super().__init__(protocol, "serial", options or Options(), timeout)
        self.port = port
        self.baudrate = baudrate or DEFAULT_BAUDRATE[protocol]
        self._serial: serial.SerialBase | None = None
        self._reassembler = Reassembler(protocol)
        self._lock = asyncio.Lock()

    async def _exchange(self, request: Request, frames: int) -> list[bytes]:
        async with self._lock:
            if self._serial is None:
                self._serial = await asyncio.to_thread(self._open)
            return await asyncio.to_thread(self._exchange_blocking, self._serial, request, frames)

    async def close(self) -> None:
        async with self._lock:
            port, self._serial = self._serial, None
            if port is not None:
                await asyncio.to_thread(port.close)

    def _open(self) -> serial.SerialBase:
        try:
            return serial.serial_for_url(
                self.port, baudrate=self.baudrate, timeout=READ_SLICE_S, write_timeout=self.timeout
            )
        except (serial.SerialException, ValueError, OSError, termios.error) as err:
            raise TransportError(f"cannot open serial port {self.port}: {err}") from err

    def _exchange_blocking(
        self, port: serial.SerialBase, request: Request, wanted: int
    ) -> list[bytes]:
        self._reassembler.reset()
        self._reassembler.last_error = None
        received: list[bytes] = []
        try:
            port.reset_input_buffer()  # a late answer to the previous request must not count
            port.write(request.data)
            port.flush()
            deadline = time.monotonic() + self.timeout
            while len(received) < wanted:
                if time.monotonic() >= deadline:
                    raise self._timeout_error(
                        request.data, len(received), wanted, self._reassembler.last_error
                    )
                chunk = port.read(max(1, port.in_waiting))
                received += [f for f in self._reassembler.feed(chunk) if request.answered_by(f)]
        except BmsTimeout:
            raise  # a TimeoutError is an OSError too, but the port is fine
        except (serial.SerialException, OSError, termios.error) as err:
            port.close()
            self._serial = None
            raise TransportError(f"serial port {self.port} failed: {err}") from err
        return received[:wanted]
