"""BLE transport on bleak: scan, GATT request/notify polling, Victron advertisements.

JBD, Daly and ANT answer a request written to one characteristic with notifications on
another (or the same), split into 20-byte pieces that the :class:`Reassembler` joins. The
link is (re)connected on demand with exponential back-off; a missing adapter or BlueZ is
reported once as :class:`AdapterMissing` instead of being retried forever. Victron devices
are never connected: their readings are in encrypted advertisements.

``backend`` is bleak's own seam (``BleakClient(..., backend=...)``,
``BleakScanner(backend=...)``); tests pass a fake backend class there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError, BleakError

from ..errors import AdapterMissing, BmsTimeout, ConnectFailed, Disconnected, TransportError
from ..model import Reading
from ..protocols import Options, Request, decode
from ..protocols.victron import COMPANY_ID, PRODUCT_ADVERTISEMENT
from ..reassembly import Reassembler
from . import DEFAULT_TIMEOUT_S, RequestResponse

log = logging.getLogger(__name__)


def _uuid16(short: int) -> str:
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


@dataclass(frozen=True)
class Gatt:
    service: str
    notify: str
    write: str


GATT = {
    "jbd": Gatt(_uuid16(0xFF00), _uuid16(0xFF01), _uuid16(0xFF02)),
    "daly": Gatt(_uuid16(0xFFF0), _uuid16(0xFFF1), _uuid16(0xFFF2)),
    "ant": Gatt(_uuid16(0xFFE0), _uuid16(0xFFE1), _uuid16(0xFFE1)),
}
_NO_BLUEZ = {"org.freedesktop.DBus.Error.ServiceUnknown", "org.bluez.Error.NotReady"}
NAME_PREFIXES = {
    "jbd": ("xiaoxiang", "jbd", "sp0", "sp1", "sp2", "dp0", "dp1"),
    "daly": ("dl-", "daly"),
    "ant": ("ant-", "ant_"),
}


@dataclass(frozen=True)
class Discovered:
    """A device seen by :func:`scan`; ``kind`` is the protocol it looks like, if any."""

    name: str | None
    address: str
    rssi: int
    kind: str | None


def guess_kind(name: str | None, advertisement: AdvertisementData) -> str | None:
    """Victron by its company id, the others by advertised name, then by service UUID."""
    if COMPANY_ID in advertisement.manufacturer_data:
        return "victron"
    lowered = (name or "").lower()
    for kind, prefixes in NAME_PREFIXES.items():
        if lowered.startswith(prefixes):
            return kind
    services = {uuid.lower() for uuid in advertisement.service_uuids}
    return next((kind for kind, gatt in GATT.items() if gatt.service in services), None)


def adapter_missing(err: BaseException) -> AdapterMissing | None:
    """The AdapterMissing that ``err`` stands for, or None if it is an ordinary BLE failure."""
    if isinstance(err, BleakBluetoothNotAvailableError):
        return AdapterMissing(f"Bluetooth is not available ({err.reason.name}): {err.args[0]}")
    if isinstance(err, FileNotFoundError):  # dbus-fast finds no system bus socket
        return AdapterMissing(f"no D-Bus system bus for BlueZ ({err}); is bluetoothd running?")
    if isinstance(err, BleakDBusError) and err.dbus_error in _NO_BLUEZ:
        return AdapterMissing(f"BlueZ is not usable ({err.dbus_error}); is bluetoothd running?")
    if isinstance(err, BleakError) and "adapter" in str(err) and "not found" in str(err):
        return AdapterMissing(str(err))
    return None


def _link_error(err: BaseException, action: str) -> TransportError:
    return adapter_missing(err) or TransportError(f"{action} failed: {err}")


async def scan(
    timeout: float = 5.0, *, backend: type[BaseBleakScanner] | None = None
) -> list[Discovered]:
    """Devices seen within ``timeout`` seconds, strongest signal first."""
    try:
        found = await BleakScanner.discover(timeout, return_adv=True, backend=backend)
    except (BleakError, OSError) as err:
        raise _link_error(err, "BLE scan") from err
    devices = [
        Discovered(adv.local_name or device.name, device.address, adv.rssi,
                   guess_kind(adv.local_name or device.name, adv))
        for device, adv in found.values()
    ]  # fmt: skip
    return sorted(devices, key=lambda d: d.rssi, reverse=True)


class BleTransport(RequestResponse):
    """Polls a JBD, Daly or ANT BMS over a BLE GATT connection."""

    def __init__(
        self,
        address: str,
        protocol: str,
        *,
        options: Options | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        connect_timeout: float = 20.0,
        connect_attempts: int = 5,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        backend: type[BaseBleakClient] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if protocol not in GATT:
            raise ValueError(f"no GATT profile for {protocol}; Victron uses VictronAdvertisements")
        super().__init__(protocol, "ble", options or Options(), timeout)
        self.address = address
        self._gatt = GATT[protocol]
        self._connect_timeout = connect_timeout
        self._attempts = connect_attempts
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._delay = backoff_initial
        self._retry_at = 0.0  # event-loop time before which no connect is tried
        self._backend = backend
        self._sleep = sleep
        self._client: BleakClient | None = None
        self._reassembler = Reassembler(protocol)
        self._frames: asyncio.Queue[bytes | None] = asyncio.Queue()  # None: link dropped

    async def poll(self) -> Reading:
        """One cycle; if the link drops during it, reconnect and run the cycle once more."""
        await self._ensure_connected()
        try:
            return await super().poll()
        except Disconnected as err:
            log.warning("%s: %s; reconnecting", self.address, err)
            await self._ensure_connected()
            return await super().poll()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(BleakError, OSError):
                await client.disconnect()

    async def _ensure_connected(self) -> None:
        """Connect, pausing before each retry; the pause doubles up to ``backoff_max``.

        A failed call returns at once with ConnectFailed, but the pending pause is kept, so
        the next poll waits it out first: a device that stays away is tried less and less
        often. A success starts the back-off over.
        """
        if self._client is not None and self._client.is_connected:
            return
        loop = asyncio.get_running_loop()
        last: BaseException | None = None
        for attempt in range(1, self._attempts + 1):
            if (pause := self._retry_at - loop.time()) > 0:
                await self._sleep(pause)
            try:
                client = await self._connect_once()
            except AdapterMissing:
                raise
            except (BleakError, OSError) as err:
                last = err
                log.warning(
                    "connecting to %s failed (attempt %d/%d): %s; next try in %.1f s",
                    self.address, attempt, self._attempts, err, self._delay,
                )  # fmt: skip
                self._retry_at = loop.time() + self._delay
                self._delay = min(self._delay * 2, self._backoff_max)
            else:
                self._client, self._delay, self._retry_at = client, self._backoff_initial, 0.0
                return
        raise ConnectFailed(
            f"could not connect to {self.address} after {self._attempts} attempts: {last}"
        )

    async def _connect_once(self) -> BleakClient:
        client = BleakClient(
            self.address,
            disconnected_callback=self._on_disconnect,
            timeout=self._connect_timeout,
            backend=self._backend,
        )
        try:
            await client.connect()
            await client.start_notify(self._gatt.notify, self._on_notify)
        except (BleakError, OSError) as err:
            with contextlib.suppress(BleakError, OSError):
                await client.disconnect()
            missing = adapter_missing(err)
            if missing is not None:
                raise missing from err
            raise
        log.info("connected to %s (%s)", self.address, self.protocol)
        return client

    def _on_notify(self, _characteristic: object, data: bytearray) -> None:
        for frame in self._reassembler.feed(bytes(data)):
            self._frames.put_nowait(frame)

    def _on_disconnect(self, client: BleakClient) -> None:
        if client is self._client:  # not a close() we asked for
            self._client = None
            self._frames.put_nowait(None)

    async def _exchange(self, request: Request, frames: int) -> list[bytes]:
        client = self._client
        if client is None:
            raise Disconnected("not connected")
        self._reassembler.reset()
        self._reassembler.last_error = None
        while not self._frames.empty():
            self._frames.get_nowait()
        try:
            await client.write_gatt_char(self._gatt.write, request.data, response=False)
        except (BleakError, OSError) as err:
            await self.close()
            raise Disconnected(f"write failed: {err}") from err
        received: list[bytes] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while len(received) < frames:
            try:
                frame = await asyncio.wait_for(self._frames.get(), deadline - loop.time())
            except TimeoutError:
                raise self._timeout_error(
                    request.data, len(received), frames, self._reassembler.last_error
                ) from None
            if frame is None:
                raise Disconnected("the BMS disconnected during a poll")
            if request.answered_by(frame):
                received.append(frame)
        return received


class VictronAdvertisements:
    """Reads a Victron device's instant-readout advertisements; no connection is made."""

    def __init__(
        self,
        address: str,
        *,
        options: Options,
        timeout: float = 10.0,
        backend: type[BaseBleakScanner] | None = None,
    ) -> None:
        self.address = address.upper()
        self.options = options
        self.timeout = timeout
        self._backend = backend

    async def poll(self) -> Reading:
        """Scan until the device's next advertisement arrives and decode it."""
        loop = asyncio.get_running_loop()
        found: asyncio.Future[bytes] = loop.create_future()

        def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
            data = adv.manufacturer_data.get(COMPANY_ID)
            if (
                device.address.upper() == self.address
                and data
                and data[0] == PRODUCT_ADVERTISEMENT
                and not found.done()
            ):
                found.set_result(bytes(data))

        scanner = BleakScanner(on_advertisement, backend=self._backend)
        try:
            await scanner.start()
        except (BleakError, OSError) as err:
            raise _link_error(err, "BLE scan") from err
        try:
            advertisement = await asyncio.wait_for(found, self.timeout)
        except TimeoutError:
            raise BmsTimeout(
                f"no Victron advertisement from {self.address} within {self.timeout:g} s"
            ) from None
        finally:
            with contextlib.suppress(BleakError, OSError):
                await scanner.stop()
        return decode("victron", [advertisement], self.options)

    async def close(self) -> None:
        """Nothing is held between polls."""
