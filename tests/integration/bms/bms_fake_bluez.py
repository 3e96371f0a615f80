"""A stand-in for BlueZ on a private D-Bus, so bleak scans real D-Bus traffic in tests.

    python bms_fake_bluez.py --bus ADDRESS \
        --device MAC/NAME/RSSI[/MANUFACTURER_ID:HEX][/uuid=UUID] ...

Owns ``org.bluez`` on the bus at ADDRESS (a ``dbus-daemon --session`` started by the test),
exports one powered adapter ``/org/bluez/hci0`` and, on every ``StartDiscovery``, announces
the given devices afresh (InterfacesAdded), as BlueZ does for devices it hears advertising.
Only what bleak's scanner uses is there; connecting (GATT) is not. Prints ``ready`` once the
name is owned; SIGTERM stops it; it dies with its parent.
"""

import argparse
import asyncio
import ctypes
import signal
import sys
from dataclasses import dataclass
from typing import Annotated

from dbus_fast import BusType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusBool, DBusDict, DBusInt16, DBusSignature, DBusStr
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_method, dbus_property

PR_SET_PDEATHSIG = 1
ADAPTER = "/org/bluez/hci0"
ObjectPath = Annotated[str, DBusSignature("o")]
Strings = Annotated[list[str], DBusSignature("as")]
ManufacturerData = Annotated[dict[int, Variant], DBusSignature("a{qv}")]


@dataclass(frozen=True)
class Advertiser:
    address: str
    name: str
    rssi: int
    manufacturer: dict[int, bytes]
    uuids: tuple[str, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> "Advertiser":
        address, name, rssi, *rest = spec.split("/")
        manufacturer = {}
        uuids = []
        for item in rest:
            if item.startswith("uuid="):
                uuids.append(item.removeprefix("uuid="))
                continue
            company, _, data = item.partition(":")
            manufacturer[int(company, 0)] = bytes.fromhex(data)
        return cls(address.upper(), name, int(rssi), manufacturer, tuple(uuids))

    @property
    def path(self) -> str:
        return f"{ADAPTER}/dev_{self.address.replace(':', '_')}"


class Device(ServiceInterface):
    """org.bluez.Device1 with the properties bleak turns into AdvertisementData."""

    def __init__(self, device: Advertiser) -> None:
        super().__init__("org.bluez.Device1")
        self.device = device

    @dbus_property(access=PropertyAccess.READ, name="Address")
    def address(self) -> DBusStr:
        return self.device.address

    @dbus_property(access=PropertyAccess.READ, name="AddressType")
    def address_type(self) -> DBusStr:
        return "public"

    @dbus_property(access=PropertyAccess.READ, name="Name")
    def name(self) -> DBusStr:
        return self.device.name

    @dbus_property(access=PropertyAccess.READ, name="Alias")
    def alias(self) -> DBusStr:
        return self.device.name

    @dbus_property(access=PropertyAccess.READ, name="Adapter")
    def adapter(self) -> ObjectPath:
        return ADAPTER

    @dbus_property(access=PropertyAccess.READ, name="RSSI")
    def rssi(self) -> DBusInt16:
        return self.device.rssi

    @dbus_property(access=PropertyAccess.READ, name="UUIDs")
    def uuids(self) -> Strings:
        return list(self.device.uuids)

    @dbus_property(access=PropertyAccess.READ, name="ManufacturerData")
    def manufacturer_data(self) -> ManufacturerData:
        return {k: Variant("ay", v) for k, v in self.device.manufacturer.items()}

    @dbus_property(access=PropertyAccess.READ, name="Connected")
    def connected(self) -> DBusBool:
        return False


class Adapter(ServiceInterface):
    """org.bluez.Adapter1: discovery re-announces every device."""

    def __init__(self, bus: MessageBus, devices: list[Advertiser]) -> None:
        super().__init__("org.bluez.Adapter1")
        self.bus = bus
        self.devices = devices
        self.discovering = False

    @dbus_method(name="SetDiscoveryFilter")
    def set_discovery_filter(self, properties: DBusDict) -> None:
        pass

    @dbus_method(name="StartDiscovery")
    def start_discovery(self) -> None:
        self.discovering = True
        for device in self.devices:
            self.bus.unexport(device.path)
            self.bus.export(device.path, Device(device))  # emits InterfacesAdded

    @dbus_method(name="StopDiscovery")
    def stop_discovery(self) -> None:
        self.discovering = False

    @dbus_property(access=PropertyAccess.READ, name="Address")
    def address(self) -> DBusStr:
        return "00:1A:7D:DA:71:13"

    @dbus_property(access=PropertyAccess.READ, name="Powered")
    def powered(self) -> DBusBool:
        return True

    @dbus_property(access=PropertyAccess.READ, name="Discovering")
    def is_discovering(self) -> DBusBool:
        return self.discovering

    @dbus_property(access=PropertyAccess.READ, name="Roles")
    def roles(self) -> Strings:
        return ["central", "peripheral"]


async def serve(address: str, devices: list[Advertiser]) -> None:
    bus = await MessageBus(bus_address=address, bus_type=BusType.SESSION).connect()
    bus.export(ADAPTER, Adapter(bus, devices))
    await bus.request_name("org.bluez")
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    bus.disconnect()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bus", required=True)
    parser.add_argument("--device", action="append", default=[], type=Advertiser.parse)
    args = parser.parse_args()
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    asyncio.run(serve(args.bus, args.device))
    return 0


if __name__ == "__main__":
    sys.exit(main())
