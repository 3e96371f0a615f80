"""BLE transport through bleak's own backend seam: a fake BaseBleakClient/BaseBleakScanner
replays captured frames as 20-byte notifications and advertisements."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakError,
)
from bms_link_support import hex_frames, vectors
from edgeos.workers.bms import AdapterMissing, BmsTimeout, ConnectFailed, Options, decode
from edgeos.workers.bms.protocols import ant, jbd
from edgeos.workers.bms.transports.ble import GATT, BleTransport, Gatt, VictronAdvertisements, scan

V = vectors()
MAC = "A4:C1:38:00:00:01"
JBD_BASIC = hex_frames(V["jbd_basic_4s_sp04s034"])
JBD_CELLS = hex_frames(V["jbd_cells_4s_sp04s034"])
SHUNT = V["victron_smartshunt_battery_monitor"]
NO_ADAPTER = BleakBluetoothNotAvailableError(
    "No Bluetooth adapters found.", BleakBluetoothNotAvailableReason.NO_BLUETOOTH
)


class FakeDevice:
    """A BMS as the fake backend sees it: replies per request, and ways to misbehave."""

    def __init__(self, gatt: Gatt, replies: dict[bytes, bytes]) -> None:
        self.gatt = gatt
        self.replies = replies
        self.connect_error: Exception | None = None
        self.failing_connects = 0
        self.drop_on_next_write = False
        self.connects = 0
        self.writes: list[bytes] = []

    def backend(self) -> type[BaseBleakClient]:
        device = self

        class FakeClient(BaseBleakClient):
            def __init__(self, address_or_ble_device: Any, **kwargs: Any) -> None:
                super().__init__(address_or_ble_device, **kwargs)
                self._connected = False
                self._notify: dict[str, Any] = {}

            @property
            def mtu_size(self) -> int:
                return 23

            @property
            def is_connected(self) -> bool:
                return self._connected

            async def connect(self, pair: bool, **kwargs: Any) -> None:
                device.connects += 1
                if device.connect_error is not None:
                    raise device.connect_error
                if device.failing_connects:
                    device.failing_connects -= 1
                    raise BleakError(f"Device with address {self.address} was not found.")
                self.services = services(device.gatt)
                self._connected = True

            async def disconnect(self) -> None:
                self._connected = False

            async def start_notify(self, characteristic: Any, callback: Any, **kw: Any) -> None:
                self._notify[characteristic.uuid] = callback

            async def write_gatt_char(self, characteristic: Any, data: Any, response: bool):
                device.writes.append(bytes(data))
                loop = asyncio.get_running_loop()
                if device.drop_on_next_write:
                    device.drop_on_next_write = False
                    self._connected = False
                    loop.call_soon(self._disconnected_callback)
                    return
                reply = device.replies.get(bytes(data), b"")
                callback = self._notify[device.gatt.notify]
                for at in range(0, len(reply), 20):
                    loop.call_soon(callback, bytearray(reply[at : at + 20]))

            async def pair(self, *args: Any, **kwargs: Any) -> None:
                raise NotImplementedError

            async def unpair(self) -> None:
                raise NotImplementedError

            async def read_gatt_char(self, characteristic: Any, **kwargs: Any) -> bytearray:
                raise NotImplementedError

            async def read_gatt_descriptor(self, descriptor: Any, **kwargs: Any) -> bytearray:
                raise NotImplementedError

            async def write_gatt_descriptor(self, descriptor: Any, data: Any) -> None:
                raise NotImplementedError

            async def stop_notify(self, characteristic: Any) -> None:
                self._notify.pop(characteristic.uuid, None)

        return FakeClient


def services(gatt: Gatt) -> BleakGATTServiceCollection:
    collection = BleakGATTServiceCollection()
    service = BleakGATTService(None, 1, gatt.service)
    collection.add_service(service)
    for handle, uuid in enumerate(dict.fromkeys((gatt.notify, gatt.write)), start=2):
        props = ["notify", "write-without-response"]
        collection.add_characteristic(
            BleakGATTCharacteristic(None, handle, uuid, props, lambda: 20, service)
        )
    return collection


def advertisement(name: str | None, rssi: int, **fields: Any) -> AdvertisementData:
    return AdvertisementData(
        local_name=name,
        manufacturer_data=fields.get("manufacturer_data", {}),
        service_data={},
        service_uuids=fields.get("service_uuids", []),
        tx_power=None,
        rssi=rssi,
        platform_data=(),
    )


def scanner_backend(
    seen: list[tuple[str, str | None, AdvertisementData]], error: Exception | None = None
) -> type[BaseBleakScanner]:
    class FakeScanner(BaseBleakScanner):
        def __init__(self, detection_callback: Any, service_uuids: Any, *args: Any, **kw: Any):
            super().__init__(detection_callback, service_uuids)

        async def start(self) -> None:
            if error is not None:
                raise error
            self.seen_devices = {}
            loop = asyncio.get_running_loop()
            for address, name, adv in seen:
                found = self.create_or_update_device(address, address, name, None, adv)
                loop.call_soon(self.call_detection_callbacks, found, adv)

        async def stop(self) -> None:
            pass

    return FakeScanner


def jbd_device() -> FakeDevice:
    return FakeDevice(
        GATT["jbd"], {jbd.request(jbd.BASIC): JBD_BASIC, jbd.request(jbd.CELLS): JBD_CELLS}
    )


def transport(device: FakeDevice, protocol: str = "jbd", **kw: Any) -> BleTransport:
    kw.setdefault("timeout", 0.5)
    return BleTransport(MAC, protocol, backend=device.backend(), **kw)


async def polls(ble: BleTransport, times: int) -> list[dict]:
    try:
        return [await ble.poll() for _ in range(times)]
    finally:
        await ble.close()


def test_jbd_poll_reassembles_notifications() -> None:
    device = jbd_device()
    (reading,) = asyncio.run(polls(transport(device), 1))
    assert reading == decode("jbd", [JBD_BASIC, JBD_CELLS])
    assert device.writes == [jbd.request(jbd.BASIC), jbd.request(jbd.CELLS)]
    assert device.connects == 1


def test_ant_poll_shares_one_characteristic() -> None:
    status = hex_frames(V["ant_v2021_status_16s"])
    device = FakeDevice(GATT["ant"], {ant.STATUS_REQUEST: status})
    (reading,) = asyncio.run(polls(transport(device, "ant"), 1))
    assert reading["voltage"] == 52.84 and reading["cells.16"] == 3.305


def test_connect_retries_with_exponential_backoff() -> None:
    device = jbd_device()
    device.failing_connects = 3
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    ble = transport(device, backoff_initial=0.5, backoff_max=1.5, sleep=sleep)
    (reading,) = asyncio.run(polls(ble, 1))
    assert reading["voltage"] == 15.6
    assert pauses == pytest.approx([0.5, 1.0, 1.5], abs=0.05)
    assert device.connects == 4


def test_connect_gives_up_and_backoff_keeps_growing_across_polls() -> None:
    device = jbd_device()
    device.failing_connects = 5
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    ble = transport(device, connect_attempts=2, backoff_initial=1, backoff_max=60, sleep=sleep)

    async def scenario() -> dict:
        for _ in range(2):
            with pytest.raises(ConnectFailed, match=f"could not connect to {MAC} after 2"):
                await ble.poll()
        reading = await ble.poll()  # attempt 5 fails, attempt 6 succeeds
        await ble.close()
        return reading

    assert asyncio.run(scenario())["cells.1"] == 3.909
    assert pauses == pytest.approx([1, 2, 4, 8, 16], abs=0.05)


def test_link_drop_during_poll_reconnects_and_retries() -> None:
    device = jbd_device()

    async def scenario() -> list[dict]:
        ble = transport(device)
        first = await ble.poll()
        device.drop_on_next_write = True
        try:
            return [first, await ble.poll()]
        finally:
            await ble.close()

    first, second = asyncio.run(scenario())
    assert first == second
    assert device.connects == 2
    assert device.writes.count(jbd.request(jbd.BASIC)) == 3  # the dropped one was retried


def test_adapter_missing_is_raised_once_not_retried() -> None:
    device = jbd_device()
    device.connect_error = NO_ADAPTER
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    with pytest.raises(AdapterMissing, match="NO_BLUETOOTH"):
        asyncio.run(polls(transport(device, sleep=sleep), 1))
    assert device.connects == 1 and pauses == []


def test_missing_dbus_counts_as_adapter_missing() -> None:
    device = jbd_device()
    device.connect_error = FileNotFoundError(2, "No such file or directory")
    with pytest.raises(AdapterMissing, match="D-Bus"):
        asyncio.run(polls(transport(device), 1))


def test_silent_bms_times_out_quickly() -> None:
    device = FakeDevice(GATT["jbd"], {})
    started = time.monotonic()
    with pytest.raises(BmsTimeout, match="got 0 of 1 frames"):
        asyncio.run(polls(transport(device, timeout=0.2), 1))
    assert time.monotonic() - started < 1.5


def test_scan_lists_name_mac_rssi_and_kind() -> None:
    victron_data = {0x02E1: bytes.fromhex(SHUNT["advertisement_hex"])}
    seen = [
        ("11:11:11:11:11:11", "xiaoxiang BMS", advertisement("xiaoxiang BMS", -70)),
        ("22:22:22:22:22:22", "ANT-BLE16ZMUB", advertisement("ANT-BLE16ZMUB", -60)),
        (
            "33:33:33:33:33:33",
            "SmartShunt",
            advertisement(None, -80, manufacturer_data=victron_data),
        ),
        ("44:44:44:44:44:44", "Phone", advertisement("Phone", -40)),
        ("55:55:55:55:55:55", None, advertisement(None, -90, service_uuids=[GATT["daly"].service])),
    ]
    found = asyncio.run(scan(0.05, backend=scanner_backend(seen)))
    assert [(d.address[:2], d.name, d.rssi, d.kind) for d in found] == [
        ("44", "Phone", -40, None),
        ("22", "ANT-BLE16ZMUB", -60, "ant"),
        ("11", "xiaoxiang BMS", -70, "jbd"),
        ("33", "SmartShunt", -80, "victron"),
        ("55", None, -90, "daly"),
    ]


@pytest.mark.parametrize(
    "error",
    [
        NO_ADAPTER,
        FileNotFoundError(2, "No such file"),
        BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown", ["org.bluez unknown"]),
        BleakError("adapter 'hci1' not found"),
    ],
)
def test_scan_without_adapter(error: Exception) -> None:
    with pytest.raises(AdapterMissing):
        asyncio.run(scan(0.05, backend=scanner_backend([], error)))


@pytest.mark.skipif(
    Path("/run/dbus/system_bus_socket").exists(), reason="this machine has a D-Bus system bus"
)
def test_real_backend_without_dbus_reports_adapter_missing() -> None:
    with pytest.raises(AdapterMissing):
        asyncio.run(scan(0.1))


def test_victron_reading_from_advertisement() -> None:
    data = {0x02E1: bytes.fromhex(SHUNT["advertisement_hex"])}
    seen = [
        ("66:66:66:66:66:66", "Other", advertisement(None, -50, manufacturer_data=data)),
        ("aa:bb:cc:dd:ee:ff", "SmartShunt", advertisement(None, -60, manufacturer_data=data)),
    ]
    victron = VictronAdvertisements(
        "AA:BB:CC:DD:EE:FF",
        options=Options(key=bytes.fromhex(SHUNT["key_hex"])),
        timeout=1,
        backend=scanner_backend(seen),
    )
    reading = asyncio.run(victron.poll())
    assert (reading["voltage"], reading["soc"], reading["consumed_ah"]) == (12.53, 50.0, -50.0)


def test_victron_silence_times_out() -> None:
    victron = VictronAdvertisements(
        MAC, options=Options(key=bytes(16)), timeout=0.1, backend=scanner_backend([])
    )
    with pytest.raises(BmsTimeout, match="no Victron advertisement"):
        asyncio.run(victron.poll())
