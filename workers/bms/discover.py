"""BLE discovery: a live list of the devices in range, each identified as JBD, Daly, ANT or
Victron where its name, service UUIDs or manufacturer data say so, and a ``bms``
connection for every one identified.

Victron devices send their readings in encrypted advertisements, so their connection
needs the device key; the result carries ``key_check``, the first byte of the key the
device advertises with, so a key typed in can be checked before it is saved.

Runs as its own process, like every discovery job (see :mod:`edgeos.supervisor.jobs`),
printing JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError
from edgeos.workers.bms.protocols.victron import COMPANY_ID, PRODUCT_ADVERTISEMENT
from edgeos.workers.bms.transports.ble import adapter_missing, guess_kind
from edgeos.workers.jobio import become_job, emit

MAX_DEVICES = 500
TICK_S = 0.5


def describe(device: BLEDevice, adv: AdvertisementData) -> dict[str, Any]:
    """One device as the list shows it, with a connection when its kind is known."""
    name = adv.local_name or device.name
    kind = guess_kind(name, adv)
    doc: dict[str, Any] = {"address": device.address, "name": name, "rssi": adv.rssi,
                           "kind": kind}
    if kind is None:
        return doc
    mac = device.address.replace(":", "").replace("-", "").lower()
    config: dict[str, Any] = {"transport": "ble", "protocol": kind, "address": device.address}
    if kind == "victron":
        data = adv.manufacturer_data.get(COMPANY_ID, b"")
        doc["needs_key"] = True
        if len(data) > 7 and data[0] == PRODUCT_ADVERTISEMENT:
            doc["key_check"] = f"{data[7]:02x}"
    doc["connection"] = {"id": f"bms_{kind}_{mac[-6:]}", "type": "bms", "enabled": True,
                         "name": name or f"{kind} battery", "config": config}
    return doc


async def discover(duration: float, adapter: str | None, emit: Any) -> dict[str, Any]:
    """Listen for ``duration`` seconds; every new device is emitted as it appears."""
    seen: dict[str, dict[str, Any]] = {}

    def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
        known = seen.get(device.address)
        if known is not None:
            known["rssi"] = adv.rssi
            return
        if len(seen) >= MAX_DEVICES:
            return
        seen[device.address] = doc = describe(device, adv)
        emit({"found": {k: doc[k] for k in ("address", "name", "rssi", "kind")}})

    kwargs: dict[str, Any] = {"detection_callback": on_advertisement}
    if adapter:
        kwargs["adapter"] = adapter
    started = time.monotonic()
    async with BleakScanner(**kwargs):
        while (elapsed := time.monotonic() - started) < duration:
            emit({"progress": round(elapsed / duration, 3),
                  "message": f"listening, {len(seen)} device(s) in range"})
            await asyncio.sleep(min(TICK_S, duration - elapsed))
    devices = sorted(seen.values(), key=lambda d: d["rssi"], reverse=True)
    emit({"progress": 1.0, "message": f"done: {len(devices)} device(s), "
                                      f"{sum(1 for d in devices if d['kind'])} identified"})
    return {"kind": "ble", "devices": devices}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgeos.workers.bms.discover",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("target", help="the Bluetooth adapter (hci0), or 'default'")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds to listen")
    args = parser.parse_args(argv)
    become_job(f"edgeos: discover ble {args.target}")
    if not 0.5 <= args.duration <= 120:
        emit({"error": f"--duration {args.duration}: use 0.5 to 120 seconds"})
        return 2
    adapter = None if args.target == "default" else args.target
    try:
        result = asyncio.run(discover(args.duration, adapter, emit))
    except (BleakError, OSError) as exc:
        missing = adapter_missing(exc)
        emit({"error": str(missing or f"BLE scan failed: {exc}")})
        return 1
    emit({"result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
