"""The ``mbus`` worker in a real daemon, against
``python -m edgeos.workers.mbus.emulator`` processes
replaying captured meter telegrams on a pty."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from edgeos.workers.mbus import decode

from tests.integration.daemon import Daemon
from tests.integration.mqtt.ha_schema import match_topic, problems
from tests.integration.mqtt.mosquitto import Mosquitto, Watcher
from tests.integration.support import Peer, wait_until

KAMSTRUP = "kamstrup_multical_601"  # heat meter, id 6855817
EMU = "EMU_EMU-Professional-375-M-Bus"  # electricity meter, id 32629, secondary 00032629B5151002


class Emulator(Peer):
    """``python -m edgeos.workers.mbus.emulator`` serving ``frames`` (name -> primary address)."""

    def __init__(self, link: Path, testdata: Path, frames: dict[str, int]) -> None:
        argv = [sys.executable, "-m", "edgeos.workers.mbus.emulator", "--pty-link", str(link)]
        for name, address in frames.items():
            argv += ["--frame", f"{testdata / 'mbus' / name}.hex@{address}"]
        super().__init__(argv, "ready /dev/", stderr=subprocess.DEVNULL)

    def toggle_silence(self) -> None:
        self.proc.send_signal(signal.SIGUSR1)


@pytest.fixture
def emulators() -> Iterator[list[Emulator]]:
    """Emulators a test starts go in this list and are ended after it."""
    started: list[Emulator] = []
    yield started
    for emulator in started:
        emulator.stop()


def telegram(testdata: Path, name: str) -> dict[str, Any]:
    return decode(bytes.fromhex((testdata / "mbus" / f"{name}.hex").read_text()))


def get(d: Daemon, address: str) -> dict[str, Any]:
    return d.call("get", address=address)


def value_of(d: Daemon, address: str) -> Any:
    try:
        return get(d, address)["value"]
    except Exception:  # no value yet
        return None


def config(link: Path, meters: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": "mbus_1", "type": "mbus", "config": {
        "serial_port": str(link), "poll_interval_s": 0.3, "timeout_s": 0.2, "retries": 0,
        "breaker": {"failures": 2, "open_s": 0.3, "max_open_s": 0.6}, "meters": meters}}


def test_two_meters_one_stops_answering_the_other_keeps_updating(
        daemon_factory, emulators: list[Emulator], testdata: Path, tmp_path: Path) -> None:
    link = tmp_path / "ttyMBUS"
    heat, power = telegram(testdata, KAMSTRUP), telegram(testdata, EMU)
    emulators.append(Emulator(link, testdata, {KAMSTRUP: 5, EMU: 7}))
    d = daemon_factory([config(link, [{"address": 5, "name": "heat"}, {"address": 7}])]).start()
    d.wait_for(lambda: value_of(d, "mbus_1.heat.online") and value_of(d, "mbus_1.32629.online"),
               what="both meters read")

    # records under stable names, values scaled to SI units, metadata for UI and discovery
    energy = get(d, "mbus_1.heat.energy")
    assert (energy["value"], energy["unit"], energy["quality"]) == (37351000.0, "Wh", "good")
    assert energy["meta"] | {"poll_interval_s": 0.3, "quantity": "Energy", "medium":
                             "Heat: Outlet", "manufacturer": "KAM", "meter_id": "6855817",
                             "state_class": "total_increasing"} == energy["meta"]
    assert get(d, "mbus_1.heat.flow_temperature")["value"] == heat["records"][4]["value"]
    assert get(d, "mbus_1.heat.meter.id")["value"] == "6855817"
    records = power["records"]
    assert [value_of(d, f"mbus_1.32629.{p}") for p in
            ("energy_t1", "energy_t1_u2", "voltage", "voltage_min", "power_4", "current_2")] == [
        records[1]["value"], records[3]["value"], records[13]["value"], records[16]["value"],
        records[8]["value"], records[23]["value"]]
    assert get(d, "mbus_1.32629.voltage_min")["meta"]["discovery"] is False  # not current
    assert get(d, "mbus_1.32629.meter.manufacturer")["value"] == "EMU"
    shown = d.ctl("get", "mbus_1.32629.voltage")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("mbus_1.32629.voltage = 225.7 (good")

    # meter 7 disappears from the line (and the port is replugged): it goes bad, 5 goes on
    emulators.pop().stop()
    emulators.append(Emulator(link, testdata, {KAMSTRUP: 5}))
    d.wait_for(lambda: value_of(d, "mbus_1.32629.online") is False, 10, "meter 7 offline")
    voltage = get(d, "mbus_1.32629.voltage")
    assert (voltage["value"], voltage["quality"]) == (225.7, "bad")
    seen = get(d, "mbus_1.heat.energy")["ts"]
    d.wait_for(lambda: (e := get(d, "mbus_1.heat.energy"))["ts"] > seen
               and e["quality"] == "good", 10, "meter 5 still updating")
    assert value_of(d, "mbus_1.heat.online") is True
    meters = d.wait_for(lambda: (m := d.instance("mbus_1")["bus"]["meters"])["32629"]["state"]
                        in ("open", "half_open") and m, what="breaker of meter 7 open")
    assert meters["32629"]["timeouts"] >= 2 and meters["32629"]["online"] is False
    assert "no answer" in meters["32629"]["last_error"]
    assert meters["heat"]["state"] == "closed" and meters["heat"]["online"] is True
    assert d.instance("mbus_1")["status"] == "running"

    # the remaining meter goes silent and comes back
    emulators[-1].toggle_silence()
    d.wait_for(lambda: get(d, "mbus_1.heat.energy")["quality"] == "bad", 10, "meter 5 bad")
    emulators[-1].toggle_silence()
    d.wait_for(lambda: get(d, "mbus_1.heat.energy")["quality"] == "good", 10, "meter 5 back")
    assert d.instance("mbus_1")["bus"]["meters"]["heat"]["state"] == "closed"

    # after a restart the absent meter keeps its name (learned, remembered) and stays bad
    before = get(d, "mbus_1.32629.online")["ts"]
    assert d.stop() == 0
    d.start()
    d.wait_for(lambda: get(d, "mbus_1.32629.online")["ts"] > before, 10, "meter 7 reported")
    assert value_of(d, "mbus_1.32629.online") is False
    assert get(d, "mbus_1.32629.voltage")["quality"] == "bad"
    assert value_of(d, "mbus_1.address_7.online") is None
    d.wait_for(lambda: get(d, "mbus_1.heat.energy")["quality"] == "good", 10, "meter 5 read")


def test_secondary_addressing_and_a_meter_that_never_answers(
        daemon_factory, emulators: list[Emulator], testdata: Path, tmp_path: Path) -> None:
    link = tmp_path / "ttyMBUS"
    emulators.append(Emulator(link, testdata, {KAMSTRUP: 5, EMU: 7}))
    d = daemon_factory([config(link, [
        {"secondary": "00032629B5151002", "name": "power"},
        {"secondary": "068558172D2C0804"},
        {"address": 9, "poll_interval_s": 0.2}])]).start()
    d.wait_for(lambda: value_of(d, "mbus_1.power.online") and value_of(d, "mbus_1.6855817.online")
               and value_of(d, "mbus_1.address_9.online") is False, what="meters polled")
    assert value_of(d, "mbus_1.power.voltage") == 225.7
    assert value_of(d, "mbus_1.6855817.energy") == 37351000.0
    # the stats come with the next heartbeat: one may still predate the first timeout
    bus = d.wait_for(lambda: (b := d.instance("mbus_1")["bus"]).get("meters_online") == 2
                     and b["meters"].get("address_9", {}).get("timeouts", 0) >= 1 and b,
                     what="stats of three meters, a timeout of meter 9 counted")
    assert bus["connected"] is True and bus["meters"]["address_9"]["timeouts"] >= 1
    assert bus["meters"]["address_9"]["meter"] == "primary:9"
    assert bus["meters"]["power"]["meter"] == "secondary:00032629B5151002"


def test_home_assistant_discovery_of_meter_records(
        daemon_factory, emulators: list[Emulator], testdata: Path, tmp_path: Path) -> None:
    link = tmp_path / "ttyMBUS"
    emulators.append(Emulator(link, testdata, {KAMSTRUP: 5, EMU: 7}))
    broker = Mosquitto(tmp_path / "mosquitto").start()
    try:
        daemon_factory([
            config(link, [{"address": 5, "name": "heat"}, {"address": 7, "name": "power"}]),
            {"id": "bridge", "type": "mqtt_bridge", "config": {
                "host": "127.0.0.1", "port": broker.port, "heartbeat_s": 2,
                "discovery_jitter_s": 0.2}}]).start()
        watcher = Watcher(broker.port, ["homeassistant/#"])
        try:
            wanted = {"heat.energy", "heat.volume", "heat.flow_temperature",
                      "heat.temperature_difference", "heat.online", "power.energy_t1",
                      "power.voltage_3", "power.current_4", "power.power"}

            def announced() -> dict[str, tuple[str, dict[str, Any]]]:
                found = {c["name"]: (t, c) for t, p in watcher.latest().items()
                         if t.endswith("/config") and p and (c := json.loads(p))}
                return found if wanted <= set(found) else {}

            found = wait_until(announced, 20, "discovery of the meter records")
        finally:
            watcher.close()
    finally:
        broker.stop()
    errors = [e for topic, config in found.values() for e in problems(topic, config)]
    assert not errors, "\n".join(errors)
    energy = found["heat.energy"][1]
    assert (energy["device_class"], energy["state_class"], energy["unit_of_measurement"]) == (
        "energy", "total_increasing", "Wh")
    volume = found["heat.volume"][1]
    assert (volume["state_class"], volume["unit_of_measurement"]) == ("total_increasing", "m^3")
    assert found["heat.flow_temperature"][1]["device_class"] == "temperature"
    assert found["power.power"][1]["device_class"] == "power"
    assert match_topic(found["heat.online"][0])["component"] == "binary_sensor"
    assert found["heat.online"][1]["device_class"] == "connectivity"
    # historic values, ids, dates and manufacturer data stay out of Home Assistant
    hidden = {"heat.energy_s1", "heat.fabrication_no", "power.voltage_min",
              "power.manufacturer_specific", "heat.meter.id"}
    assert not hidden & set(found)
