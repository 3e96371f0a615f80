"""BLE discovery with no radio here: recorded advertisements (names, service UUIDs and a
Victron SmartShunt's manufacturer data from the shared vectors) come in through bleak's
real BlueZ backend from a stand-in for BlueZ on a private D-Bus (bms_fake_bluez.py), so
identification, the live list and the one-click connection are tested above bleak's
boundary exactly as with a radio. Connecting to a GATT BMS needs a radio: the JBD
connection is checked up to "saved, started, no adapter to connect"; the Victron one reads
its values from the advertisements."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bms_link_support import vectors

from tests.integration.support import bluez_bus

SHUNT = vectors()["victron_smartshunt_battery_monitor"]
SHUNT_MAC = "C0:11:22:33:44:55"
DALY_SERVICE = "0000fff0-0000-1000-8000-00805f9b34fb"
ADVERTISERS = [
    f"{SHUNT_MAC}/SmartShunt HQ2203/-70/0x02E1:{SHUNT['advertisement_hex'].replace(' ', '')}",
    "A4:C1:38:00:00:01/xiaoxiang BMS/-60",
    "A4:C1:38:00:00:02/ANT-BLE16ZMUB/-75",
    f"A4:C1:38:00:00:03/BT-4.0/-80/uuid={DALY_SERVICE}",
    "11:22:33:44:55:66/Phone/-85",
]


@pytest.fixture
def bluez(tmp_path: Path) -> Iterator[str]:
    with bluez_bus(tmp_path, ADVERTISERS) as address:
        yield address


def test_devices_in_range_are_identified(bluez: str) -> None:
    done = subprocess.run([sys.executable, "-m", "edgeos.workers.bms.discover", "hci0",
                           "--duration", "1.5"], capture_output=True, text=True, timeout=60,
                          env={"DBUS_SYSTEM_BUS_ADDRESS": bluez, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [json.loads(x) for x in done.stdout.splitlines()]
    devices = lines[-1]["result"]["devices"]
    assert [(d["address"][-2:], d["rssi"], d["kind"]) for d in devices] == [
        ("01", -60, "jbd"), ("55", -70, "victron"), ("02", -75, "ant"), ("03", -80, "daly"),
        ("66", -85, None)]
    shunt = devices[1]
    assert shunt["needs_key"] is True and shunt["key_check"] == SHUNT["key_hex"][:2]
    assert shunt["connection"]["config"] == {"transport": "ble", "protocol": "victron",
                                             "address": SHUNT_MAC}
    assert devices[0]["connection"] == {
        "id": "bms_jbd_000001", "type": "bms", "enabled": True, "name": "xiaoxiang BMS",
        "config": {"transport": "ble", "protocol": "jbd", "address": "A4:C1:38:00:00:01"}}
    assert "connection" not in devices[4]
    assert len([x for x in lines if "found" in x]) == 5  # each device once, as it appears


def test_no_bluetooth_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "edgeos.workers.bms.discover", "default",
                           "--duration", "1"], capture_output=True, text=True, timeout=60,
                          env={"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path}/none",
                               "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1
    error = json.loads(done.stdout.splitlines()[-1])["error"]
    assert "D-Bus" in error or "Bluetooth" in error


def test_from_the_list_to_a_victron_connection_that_reads(daemon_factory: Any,
                                                         bluez: str) -> None:
    d = daemon_factory([], env={"DBUS_SYSTEM_BUS_ADDRESS": bluez}).start()
    listed = d.ctl("discover", "ble", "hci0", "--duration", "1.5")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[:3] == [
        "ADDRESS            RSSI  KIND     NAME",
        "A4:C1:38:00:00:01  -60   jbd      xiaoxiang BMS",
        "C0:11:22:33:44:55  -70   victron  SmartShunt HQ2203  key needed"]
    job = d.call("discover_list")[-1]
    devices = d.call("discover_status", job=job["id"])["result"]["devices"]
    entry = next(x for x in devices if x["kind"] == "victron")["connection"]
    entry["config"].update(key=SHUNT["key_hex"], poll_interval_s=0.3, timeout_s=2)
    d.write_connections([entry])
    d.call("reload")
    iid = entry["id"]
    d.wait_for(lambda: d.call("get", address=f"{iid}.soc")["quality"] == "good",
               what="the new connection reads the shunt")
    assert d.call("get", address=f"{iid}.voltage")["value"] == SHUNT["expected"]["voltage_v"]
