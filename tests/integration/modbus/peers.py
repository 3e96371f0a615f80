"""Real Modbus peers for tests and the benchmark: pymodbus's own servers, and a
null-modem serial line made of two ptys with a relay that can corrupt frames.

The servers run in a thread of the test process with their own event loop, so a test
can look straight into the server's datastore to check that a write landed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import sys
import threading
import tty
from collections import deque
from collections.abc import Sequence
from typing import Any

from pymodbus import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

FUNCTION_CODES = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}


def device(unit_id: int, requests: deque[tuple[int, int, int, int]], registers: int = 400,
           bits: int = 64) -> SimDevice:
    """A device with four separate tables: coils, discrete inputs, holding, input; it
    notes ``(unit id, function code, address, count)`` of every request it serves."""
    async def note(fc: int, _start: int, address: int, count: int, _regs: list[int],
                   _values: Any) -> None:
        requests.append((unit_id, fc, address, count))

    return SimDevice(unit_id, action=note, simdata=(
        [SimData(0, count=bits, values=False, datatype=DataType.BITS)],
        [SimData(0, count=bits, values=False, datatype=DataType.BITS)],
        [SimData(0, count=registers, values=0, datatype=DataType.REGISTERS)],
        [SimData(0, count=registers, values=0, datatype=DataType.REGISTERS)],
    ))


class ServerThread:
    """A pymodbus server (TCP or RTU) that can be stopped and started again."""

    def __init__(self, unit_ids: Sequence[int] = (1,), *, serial_port: str | None = None,
                 baudrate: int = 115200, registers: int = 400, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.unit_ids = list(unit_ids)
        self.host = host
        self.serial_port = serial_port
        self.baudrate = baudrate
        self.registers = registers
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="modbus-peer")
        self.thread.start()
        self.server: ModbusTcpServer | ModbusSerialServer | None = None
        #: (unit id, function code, address, count) of the latest requests served
        self.requests: deque[tuple[int, int, int, int]] = deque(maxlen=10_000)
        self._devices = [device(u, self.requests, registers) for u in self.unit_ids]

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def start(self) -> ServerThread:
        """Serve (again, on the same port and with the same datastore)."""
        self._run(self._start())
        return self

    async def _start(self) -> None:
        if self.serial_port:
            server: ModbusTcpServer | ModbusSerialServer = ModbusSerialServer(
                self._devices, framer=FramerType.RTU, port=self.serial_port,
                baudrate=self.baudrate)
        else:
            server = ModbusTcpServer(self._devices, address=(self.host, self.port))
        await server.serve_forever(background=True)
        if not self.serial_port:
            self.port = server.transport.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        # keep the datastore across restarts: the new server takes over the old one's memory
        if self.server is not None:
            server.context = self.server.context
        self.server = server

    def stop(self) -> None:
        if self.server is not None:
            self._run(self.server.shutdown())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    # -- the datastore -----------------------------------------------------------------
    def get(self, table: str, address: int, count: int = 1, unit_id: int = 1) -> list[Any]:
        assert self.server is not None
        return self._run(self.server.async_getValues(unit_id, FUNCTION_CODES[table], address,
                                                     count))

    def set(self, table: str, address: int, values: Sequence[int] | Sequence[bool],
            unit_id: int = 1) -> None:
        assert self.server is not None
        self._run(self.server.async_setValues(unit_id, FUNCTION_CODES[table], address,
                                              list(values)))


class PtyLine:
    """A serial cable between two pty devices: the server opens ``server_port``, every
    client opens ``client_port``; like an RS485 line, many may open that end.

    ``corrupt(n)`` flips a bit in the next ``n`` chunks sent from the server side, so
    the clients see CRC errors.
    """

    def __init__(self) -> None:
        self._m_server, self._s_server = os.openpty()
        self._m_client, self._s_client = os.openpty()
        for fd in (self._s_server, self._s_client):
            tty.setraw(fd)  # and they stay open here, so the masters never see EIO
        self.server_port = os.ttyname(self._s_server)
        self.client_port = os.ttyname(self._s_client)
        self._corrupt = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._relay, daemon=True, name="pty-line")
        self.thread.start()

    def corrupt(self, chunks: int) -> None:
        with self._lock:
            self._corrupt += chunks

    def _relay(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._m_server, self._m_client], [], [], 0.1)
            for fd in ready:
                try:
                    data = bytearray(os.read(fd, 4096))
                except OSError:
                    continue
                if fd == self._m_server:
                    with self._lock:
                        if self._corrupt and data:
                            self._corrupt -= 1
                            data[-1] ^= 0x01
                    os.write(self._m_client, data)
                else:
                    os.write(self._m_server, data)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        for fd in (self._m_server, self._s_server, self._m_client, self._s_client):
            with contextlib.suppress(OSError):
                os.close(fd)


def main() -> None:
    """Serve unit 1 over TCP on a free port of 127.0.0.1 until stdin closes (for bench/)."""
    server = ServerThread([1], registers=2000).start()
    print(server.port, flush=True)
    sys.stdin.read()
    server.close()


if __name__ == "__main__":
    main()
