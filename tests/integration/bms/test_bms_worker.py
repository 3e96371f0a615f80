"""The ``bms`` worker in a real daemon: a JBD BMS emulated on a pty by its own process, a
Victron shunt and a BLE scan through bleak, D-Bus and a stand-in for BlueZ, and an instance
whose Bluetooth adapter is missing."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bms_link_support import vectors
from bms_pty_device import capture_answers
from edgeos.workers.bms import decode
from edgeos.workers.bms.protocols import jbd

from tests.integration.daemon import Daemon
from tests.integration.mqtt.ha_schema import match_topic, problems
from tests.integration.mqtt.mosquitto import Mosquitto, Watcher
from tests.integration.support import Peer, bluez_bus, wait_until

HERE = Path(__file__).resolve().parent
CAPTURE = "JBD-SP04S034-L4S-200A-B-U.txt"


class Device(Peer):
    """The JBD pty device emulator (``bms_pty_device.py``), silenced with SIGUSR1."""

    def toggle_silence(self) -> None:
        self.proc.send_signal(signal.SIGUSR1)


@pytest.fixture
def jbd_device(tmp_path: Path, testdata: Path) -> Iterator[tuple[Device, Path]]:
    link = tmp_path / "ttyBMS"
    device = Device([sys.executable, str(HERE / "bms_pty_device.py"), "--pty-link", str(link),
                   "--capture", str(testdata / "bms" / "jbd" / CAPTURE)], "ready ")
    try:
        yield device, link
    finally:
        device.stop()


SHUNT = vectors()["victron_smartshunt_battery_monitor"]
SHUNT_MAC = "C0:11:22:33:44:55"
ADVERTISERS = [
    f"{SHUNT_MAC}/SmartShunt HQ2203/-70/0x02E1:{SHUNT['advertisement_hex'].replace(' ', '')}",
    "A4:C1:38:00:00:01/xiaoxiang BMS/-60",
    "11:22:33:44:55:66/Phone/-85",
]


@pytest.fixture
def fake_bluez(tmp_path: Path) -> Iterator[str]:
    """A private D-Bus with the BlueZ stand-in on it; yields the bus address."""
    with bluez_bus(tmp_path, ADVERTISERS) as address:
        yield address


def expected_reading(testdata: Path) -> dict[str, Any]:
    """What the first captured 0x03 and 0x04 answers decode to."""
    answers = capture_answers(testdata / "bms" / "jbd" / CAPTURE)
    return decode("jbd", [answers[jbd.request(jbd.BASIC)][0],
                          answers[jbd.request(jbd.CELLS)][0]])


def get(d: Daemon, address: str) -> dict[str, Any]:
    return d.call("get", address=address)


def quality_of(d: Daemon, address: str) -> str | None:
    try:
        return get(d, address)["quality"]
    except Exception:  # no value yet
        return None


def test_jbd_over_a_pty_end_to_end(daemon_factory, jbd_device, testdata: Path) -> None:
    device, link = jbd_device
    expected = expected_reading(testdata)
    d = daemon_factory([{"id": "bms_1", "type": "bms", "config": {
        "transport": "serial", "protocol": "jbd", "serial_port": str(link),
        "poll_interval_s": 0.2, "timeout_s": 0.3, "backoff_max_s": 0.4}}]).start()
    d.wait_for(lambda: quality_of(d, "bms_1.cells.4") == "good", what="first reading")

    for path in ("voltage", "soc", "cells.1"):
        value = get(d, f"bms_1.{path}")
        assert (value["value"], value["quality"], value["ack"]) == (expected[path], "good", True)
    voltage = get(d, "bms_1.voltage")
    assert voltage["unit"] == "V"
    assert voltage["meta"]["device_class"] == "voltage"
    assert voltage["meta"]["poll_interval_s"] == 0.2
    assert get(d, "bms_1.soc")["meta"]["device_class"] == "battery"
    assert get(d, "bms_1.temperatures.1")["unit"] == "°C"
    assert get(d, "bms_1.alarms.short_circuit")["value"] is False
    assert get(d, "bms_1.online")["value"] is True
    shown = d.ctl("get", "bms_1.cells.1")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"bms_1.cells.1 = {expected['cells.1']!r} (good")
    bus = d.wait_for(lambda: (b := d.instance("bms_1")["bus"]).get("polls", 0) >= 3 and b,
                     what="stats")
    assert bus["connected"] is True and bus["errors"] == 0 and bus["latency_ms"] > 0

    device.toggle_silence()
    d.wait_for(lambda: quality_of(d, "bms_1.voltage") == "bad", 10, "voltage bad")
    assert get(d, "bms_1.voltage")["value"] == expected["voltage"]  # last known, marked bad
    assert get(d, "bms_1.online")["value"] is False
    inst = d.wait_for(lambda: (i := d.instance("bms_1"))["bus"]["timeouts"] > 0 and i,
                      what="timeouts counted")
    assert inst["status"] == "running" and inst["bus"]["connected"] is False
    assert "did not answer" in inst["last_error"]

    device.toggle_silence()
    d.wait_for(lambda: quality_of(d, "bms_1.voltage") == "good", 10, "voltage good again")
    assert get(d, "bms_1.online")["value"] is True

    device.stop()  # the adapter is unplugged (the line hangs up) and plugged in again
    d.wait_for(lambda: quality_of(d, "bms_1.voltage") == "bad", 10, "voltage bad (unplugged)")
    device.start()
    d.wait_for(lambda: quality_of(d, "bms_1.voltage") == "good", 10, "voltage good (replugged)")
    assert d.instance("bms_1")["restarts"] == 0


def test_missing_bluetooth_adapter_idles_with_a_clear_error(daemon_factory,
                                                             tmp_path: Path) -> None:
    no_bus = f"unix:path={tmp_path / 'no-system-bus'}"
    d = daemon_factory([{"id": "bms_ble", "type": "bms", "config": {
        "transport": "ble", "protocol": "jbd", "address": "A4:C1:38:00:00:01",
        "poll_interval_s": 0.2, "adapter_retry_s": 0.2}}],
        env={"DBUS_SYSTEM_BUS_ADDRESS": no_bus}).start()
    inst = d.wait_for(lambda: (i := d.instance("bms_ble"))["bus"].get("adapter_missing") and i,
                      what="adapter reported missing")
    assert "Bluetooth adapter missing" in inst["last_error"]
    assert inst["bus"]["connected"] is False
    assert get(d, "bms_ble.online")["value"] is False
    pid = inst["pid"]
    # more attempts: still the same process, the error counted (and logged) once
    inst = d.wait_for(lambda: (i := d.instance("bms_ble"))["bus"]["polls"] >= 5 and i,
                      what="five attempts")
    assert (inst["status"], inst["pid"], inst["restarts"]) == ("running", pid, 0)
    assert inst["bus"]["errors"] == 1 and inst["error_count"] == 1

    d.call("set", address="bms_ble.scan", value=True)
    error = d.wait_for(lambda: get(d, "bms_ble.scan.error")["value"], what="scan error")
    assert "D-Bus" in error or "Bluetooth" in error
    assert get(d, "bms_ble.scan")["value"] is False


def test_victron_and_scan_over_ble_through_bluez(daemon_factory, fake_bluez: str) -> None:
    d = daemon_factory([{"id": "shunt", "type": "bms", "config": {
        "transport": "ble", "protocol": "victron", "address": SHUNT_MAC,
        "key": SHUNT["key_hex"], "poll_interval_s": 0.3, "timeout_s": 2, "scan": True,
        "scan_timeout_s": 0.5}}], env={"DBUS_SYSTEM_BUS_ADDRESS": fake_bluez}).start()
    d.wait_for(lambda: quality_of(d, "shunt.soc") == "good", what="victron reading")
    assert get(d, "shunt.voltage")["value"] == SHUNT["expected"]["voltage_v"]
    assert get(d, "shunt.soc")["value"] == SHUNT["expected"]["soc_percent"]

    d.wait_for(lambda: quality_of(d, "shunt.scan.devices") == "good", what="scan results")
    found = d.call("datapoints", prefix="shunt.scan.")["datapoints"]
    seen = {p["address"].removeprefix("shunt.scan."): p["value"] for p in found}
    assert seen["devices"] == 3 and seen["error"] == ""
    assert {k: v for k, v in seen.items() if k.startswith("A4C138000001.")} == {
        "A4C138000001.name": "xiaoxiang BMS", "A4C138000001.address": "A4:C1:38:00:00:01",
        "A4C138000001.rssi": -60, "A4C138000001.kind": "jbd"}
    assert seen["C01122334455.kind"] == "victron" and seen["112233445566.kind"] == ""
    assert get(d, "shunt.scan.A4C138000001.rssi")["unit"] == "dBm"
    shown = d.ctl("get", "shunt.scan.C01122334455.name")
    assert shown.stdout.startswith("shunt.scan.C01122334455.name = 'SmartShunt HQ2203' (good")

    before = get(d, "shunt.scan.devices")["ts"]
    d.call("set", address="shunt.scan", value=True)  # a scan on demand
    d.wait_for(lambda: get(d, "shunt.scan.devices")["ts"] > before, what="second scan")
    assert d.instance("shunt")["bus"]["errors"] == 0


def test_home_assistant_discovery_of_a_bms(daemon_factory, jbd_device, tmp_path: Path) -> None:
    _, link = jbd_device
    broker = Mosquitto(tmp_path / "mosquitto").start()
    try:
        d = daemon_factory([
            {"id": "bms_1", "type": "bms", "config": {
                "transport": "serial", "protocol": "jbd", "serial_port": str(link),
                "poll_interval_s": 0.5}},
            {"id": "bridge", "type": "mqtt_bridge", "config": {
                "host": "127.0.0.1", "port": broker.port, "heartbeat_s": 2,
                "discovery_jitter_s": 0.2}}]).start()
        watcher = Watcher(broker.port, ["homeassistant/#"])
        try:
            wanted = {"voltage", "soc", "cells.4", "temperatures.3", "alarms.short_circuit",
                      "cycles", "online", "charge_mos"}

            def announced() -> dict[str, tuple[str, dict[str, Any]]]:
                found = {c["name"]: (t, c) for t, p in watcher.latest().items()
                         if t.endswith("/config") and p and (c := json.loads(p))}
                return found if wanted <= set(found) else {}

            found = wait_until(announced, 20, "discovery of the bms points")
        finally:
            watcher.close()
        errors = [e for topic, config in found.values() for e in problems(topic, config)]
        assert not errors, "\n".join(errors)

        def entity(name: str) -> tuple[str, dict[str, Any]]:
            topic, config = found[name]
            match = match_topic(topic)
            assert match is not None
            return match["component"], config

        assert entity("voltage")[1]["device_class"] == "voltage"
        assert entity("soc")[1]["device_class"] == "battery"
        assert entity("cells.4")[1]["unit_of_measurement"] == "V"
        assert entity("temperatures.3")[1]["device_class"] == "temperature"
        assert entity("cycles")[1]["state_class"] == "total_increasing"
        assert entity("voltage")[1]["expire_after"] == 10  # 5 x the bridge's heartbeat
        platform, alarm = entity("alarms.short_circuit")
        assert (platform, alarm["device_class"]) == ("binary_sensor", "problem")
        platform, online = entity("online")
        assert (platform, online["device_class"]) == ("binary_sensor", "connectivity")
        assert "protection_bits" not in found and "cell_count" not in found  # raw registers
        assert d.instance("bms_1")["restarts"] == 0
    finally:
        broker.stop()
