"""One Modbus device over TCP or RTU, with retries and counters of what the bus did.

Built on pymodbus's *synchronous* clients, run from the worker's single I/O thread:
a sync client reads the port only while a request is outstanding, which is what lets
several processes share one RS485 line (see :mod:`edgeos.workers.modbus.bus`). pymodbus's own
retries are off; :meth:`ModbusLink.request` retries so that every attempt, timeout and
CRC error is counted here.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from edgeos.workers.modbus.bus import LineBusy, LineLock
from pymodbus import FramerType
from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU, ModbusPDU


class LinkError(Exception):
    """A request that did not get a usable answer."""


class DeviceUnreachable(LinkError):
    """No answer after every retry (timeout, CRC errors, connection refused/lost)."""


class DeviceRejected(LinkError):
    """The device answered with a Modbus exception (illegal address, busy...)."""

    def __init__(self, code: int, what: str) -> None:
        try:
            name = ExcCodes(code).name.lower()
        except ValueError:
            name = "unknown"
        super().__init__(f"{what}: exception {code} ({name})")
        self.code = code


@dataclass
class BusCounters:
    """What went over the bus, written by the I/O thread, read for the heartbeat."""

    requests: int = 0  # request frames sent, retries included
    responses: int = 0  # answers received, exception responses included
    timeouts: int = 0
    crc_errors: int = 0
    bad_answers: int = 0  # well-formed, but for another unit id or transaction
    retries: int = 0
    exceptions: int = 0  # Modbus exception responses
    connect_failures: int = 0
    registers: int = 0  # registers (or coils) read and written
    latency_ms_sum: float = 0.0
    latency_ms_max: float = 0.0
    line_wait_ms_sum: float = 0.0
    turns: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 1) if isinstance(v, float) else v for k, v in vars(self).items()}


class _CountingRTU(FramerRTU):
    """The RTU framer, telling us about every frame it drops for a bad CRC."""

    def __init__(self, decoder: DecodePDU, on_crc_error: Callable[[], None]) -> None:
        super().__init__(decoder)
        self._on_crc_error = on_crc_error

    def decode(self, data: bytes) -> tuple[int, int, int, bytes]:
        used, dev_id, tid, frame = super().decode(data)
        if used and not frame:
            self._on_crc_error()
        return used, dev_id, tid, frame


BIT_READS = {"coil": "read_coils", "discrete": "read_discrete_inputs"}
REGISTER_READS = {"holding": "read_holding_registers", "input": "read_input_registers"}


class ModbusLink:
    """Requests to one unit id, over TCP or over a (shared) serial line."""

    def __init__(self, config: Mapping[str, Any], run_dir: str, counters: BusCounters) -> None:
        """``config``: the instance's validated config, the schema's defaults filled in."""
        self.counters = counters
        self.unit_id = int(config["unit_id"])
        self.retries = int(config["retries"])
        self.write_multiple = bool(config["write_multiple"])
        timeout = float(config["timeout_s"])
        self.line: LineLock | None = None
        self.client: ModbusTcpClient | ModbusSerialClient
        if config["transport"] == "rtu":
            port = config["serial_port"]
            self.endpoint = port
            self.client = ModbusSerialClient(
                port, framer=FramerType.RTU, baudrate=int(config["baudrate"]),
                parity=config["parity"], bytesize=int(config["bytesize"]),
                stopbits=int(config["stopbits"]), timeout=timeout, retries=0)
            # pymodbus has no hook for dropped frames: swap in a framer that counts them
            framer = _CountingRTU(DecodePDU(False), self._crc_error)
            self.client.framer = self.client.transaction.framer = framer
            self.line = LineLock(run_dir, port)
            # wait for the line at most as long as a few other turns could take
            self.line_timeout = max(5.0, 4 * timeout * (self.retries + 1))
        else:
            self.endpoint = f"{config['host']}:{int(config['port'])}"
            self.client = ModbusTcpClient(config["host"], port=int(config["port"]),
                                          timeout=timeout, retries=0)
        self.cancel = threading.Event()

    def _crc_error(self) -> None:
        self.counters.crc_errors += 1

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """One go at the device: on a serial line, hold it (and the port) meanwhile."""
        if self.line is None:
            yield
            return
        try:
            waited = self.line.acquire(self.line_timeout, self.cancel)
        except LineBusy as exc:
            raise LinkError(str(exc)) from None
        self.counters.line_wait_ms_sum += waited * 1000
        self.counters.turns += 1
        try:
            if not self.client.connect():
                self.counters.connect_failures += 1
                raise DeviceUnreachable(f"cannot open {self.endpoint}")
            yield
        finally:
            self.client.close()
            self.line.release()

    def read(self, table: str, address: int, count: int) -> list[int] | list[bool]:
        what = f"read {table} {address}+{count}"
        if table in BIT_READS:
            method = getattr(self.client, BIT_READS[table])
            response = self.request(partial(method, address, count=count,
                                            device_id=self.unit_id), what)
            data: list[int] | list[bool] = list(response.bits[:count])
        else:
            method = getattr(self.client, REGISTER_READS[table])
            response = self.request(partial(method, address, count=count,
                                            device_id=self.unit_id), what)
            data = list(response.registers)
        if len(data) != count:
            raise DeviceUnreachable(f"{what}: got {len(data)} values")
        self.counters.registers += count
        return data

    def write(self, table: str, address: int, values: list[int] | list[bool]) -> None:
        client, uid = self.client, self.unit_id
        single = len(values) == 1 and not self.write_multiple
        send: Callable[[], ModbusPDU]
        if table == "coil":
            bits = [bool(v) for v in values]
            send = partial(client.write_coil, address, bits[0], device_id=uid) if single \
                else partial(client.write_coils, address, bits, device_id=uid)
        else:
            regs = [int(v) for v in values]
            send = partial(client.write_register, address, regs[0], device_id=uid) if single \
                else partial(client.write_registers, address, regs, device_id=uid)
        self.request(send, f"write {table} {address}+{len(values)}")
        self.counters.registers += len(values)

    def request(self, send: Callable[[], ModbusPDU], what: str) -> ModbusPDU:
        """Send with retries; the answer, DeviceRejected, or DeviceUnreachable."""
        c = self.counters
        last = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                c.retries += 1
            if not self.client.connected and not self.client.connect():
                c.connect_failures += 1
                last = f"cannot connect to {self.endpoint}"
                continue
            crc_before = c.crc_errors
            c.requests += 1
            t0 = time.perf_counter()
            try:
                response = send()
            except ConnectionException as exc:
                c.connect_failures += 1
                last = f"connection to {self.endpoint} lost: {_short(exc)}"
                self._resync()
                continue
            except ModbusIOException as exc:
                if c.crc_errors != crc_before:
                    last = f"bad CRC from {self.endpoint} unit {self.unit_id}"
                elif "No response" in str(exc):
                    c.timeouts += 1
                    last = f"no answer from {self.endpoint} unit {self.unit_id}"
                else:  # an answer for another unit or transaction
                    c.bad_answers += 1
                    last = f"bad answer from {self.endpoint}: {_short(exc)}"
                self._resync()
                continue
            ms = (time.perf_counter() - t0) * 1000
            c.responses += 1
            c.latency_ms_sum += ms
            c.latency_ms_max = max(c.latency_ms_max, ms)
            if response.isError():
                c.exceptions += 1
                raise DeviceRejected(response.exception_code, what)
            return response
        raise DeviceUnreachable(f"{what}: {last}")

    def _resync(self) -> None:
        """Drop the TCP connection after a failure so a late answer cannot be misread."""
        if self.line is None:
            self.client.close()

    def close(self) -> None:
        self.client.close()


def _short(exc: Exception) -> str:
    text = str(exc).replace("Modbus Error: ", "")
    return text if len(text) <= 160 else text[:157] + "..."
