"""Every vector of shared/testdata/bms/vectors.json decodes to its expected values.

The vectors name values their own way (``total_voltage_v``); :data:`SAME` and the special
cases in :func:`check_expected` map them onto our contract keys. An expected key that no
mapping covers fails the test, so no expected value goes unchecked.
"""

from __future__ import annotations

import math

import pytest
from bms_unit_support import load_vectors
from edgeos.workers.bms import Options, decode
from edgeos.workers.bms.protocols import ant, daly, jbd, victron

VECTORS = load_vectors()

SAME = {
    "total_voltage_v": "voltage",
    "voltage_v": "voltage",
    "battery_voltage_v": "voltage",
    "current_a": "current",
    "battery_charging_current_a": "current",
    "power_w": "power",
    "rsoc_percent": "soc",
    "soc_percent": "soc",
    "soh_percent": "soh",
    "remaining_capacity_ah": "capacity_remaining",
    "nominal_capacity_ah": "capacity_nominal",
    "total_capacity_ah": "capacity_nominal",
    "cycles": "cycles",
    "cell_count": "cell_count",
    "software_version": "software_version",
    "production_date": "production_date",
    "protection_bits": "protection_bits",
    "model": "model",
    "min_cell": "cell_min_index",
    "min_cell_number": "cell_min_index",
    "min_voltage_cell": "cell_min_index",
    "max_cell": "cell_max_index",
    "max_cell_number": "cell_max_index",
    "max_voltage_cell": "cell_max_index",
    "min_cell_voltage_v": "cell_min",
    "max_cell_voltage_v": "cell_max",
    "delta_v": "cell_delta",
    "average_v": "cell_avg",
    "acquisition_voltage_v": "voltage_acquisition",
    "bms_life_cycles": "bms_life",
    "temperature_sensor_count": "temperature_count",
    "charger_connected": "charger_connected",
    "load_connected": "load_connected",
    "dio_bits": "dio_bits",
    "cycle_capacity_ah": "cycle_capacity",
    "total_runtime_s": "runtime_s",
    "mosfet_temperature_c": "temperature_mosfet",
    "balancer_temperature_c": "temperature_balancer",
    "total_discharging_capacity_ah": "discharge_capacity_total",
    "total_charging_capacity_ah": "charge_capacity_total",
    "total_discharging_time_s": "discharge_time_s",
    "total_charging_time_s": "charge_time_s",
    "consumed_ah": "consumed_ah",
    "midpoint_voltage_v": "midpoint_voltage",
    "starter_voltage_v": "starter_voltage",
    "temperature_c": "temperatures.1",
    "remaining_mins": "time_to_go_min",
    "alarm": "alarm_bits",
    "charger_error": "charger_error",
    "yield_today_wh": "yield_today",
    "solar_power_w": "pv_power",
    "external_device_load_a": "load_current",
}
AS_BOOL = {
    "charge_fet_on": "charge_mos",
    "discharge_fet_on": "discharge_mos",
    "charge_mos": "charge_mos",
    "discharge_mos": "discharge_mos",
    "charge_mosfet": "charge_mos",
    "discharge_mosfet": "discharge_mos",
    "balancer": "balancing",
}
# JBD 0xAA counters: the vector says "battery", we say "pack" as in the alarm names.
COUNTERS = {
    "short_circuit", "charge_overcurrent", "discharge_overcurrent", "cell_overvoltage",
    "cell_undervoltage", "charge_overtemperature", "charge_undertemperature",
    "discharge_overtemperature", "discharge_undertemperature", "battery_overvoltage",
    "battery_undervoltage",
}  # fmt: skip
NAMED = {  # expected int -> our name, and expected name (upper case) -> our name
    ("daly", "state"): list(daly.STATES),
    ("ant", "battery_status"): list(ant.STATES),
    ("victron_ble", "aux_mode"): list(victron.AUX_MODES),
}


def assert_value(actual, expected, what: str) -> None:
    """Exact for bools, strings and ints; floats as printed (the sources round)."""
    if isinstance(expected, bool | str):
        assert actual == expected, what
    elif isinstance(expected, int):
        assert actual == expected and not isinstance(actual, bool), what
    else:
        decimals = max(3, len(repr(expected).partition(".")[2]))
        assert round(actual, decimals) == pytest.approx(expected, abs=1e-12), f"{what}: {actual}"


def numbered(reading: dict, prefix: str) -> list:
    count = sum(key.startswith(f"{prefix}.") for key in reading)
    assert all(f"{prefix}.{n}" in reading for n in range(1, count + 1)), f"{prefix} gap"
    return [reading[f"{prefix}.{n}"] for n in range(1, count + 1)]


def decode_vector(vector: dict) -> dict:
    if vector["kind"] == "victron_ble":
        if "advertisement_hex" in vector:
            key = bytes.fromhex(vector["key_hex"])
            return decode("victron", [bytes.fromhex(vector["advertisement_hex"])], Options(key=key))
        return victron.decode_record(
            victron.BATTERY_MONITOR, bytes.fromhex(vector["decrypted_hex"])
        )
    frames = vector.get("frames_hex") or [vector["frame_hex"]]
    return decode(vector["kind"], [bytes.fromhex(f) for f in frames])


# victron-ble's own tests decode an aux input of 0xFFFF literally (382.2 °C, -0.01 V);
# Victron marks it "not available" in every aux mode, so we leave it out (issue 19).
AUX_NOT_AVAILABLE = {
    ("victron_battery_monitor_aux_temperature", "temperature_c"),
    ("victron_smartshunt_dc_energy_meter", "starter_voltage_v"),
}


def check_expected(vector: dict, reading: dict) -> None:
    kind = vector["kind"]
    for name, expected in vector["expected"].items():
        what = f"{vector['id']}: {name}"
        if (vector["id"], name) in AUX_NOT_AVAILABLE:
            assert SAME[name] not in reading, f"{what}: aux 0xFFFF is not available"
        elif expected is None:
            assert SAME[name] not in reading, f"{what} should be absent"
        elif name in SAME:
            assert SAME[name] in reading, f"{what} missing"
            assert_value(reading[SAME[name]], expected, what)
        elif name in AS_BOOL:
            assert reading[AS_BOOL[name]] is bool(expected), what
        elif name in ("cell_voltages_v",):
            assert_value_list(numbered(reading, "cells")[: len(expected)], expected, what)
            if "cells_17_to_48_v" not in vector["expected"]:
                assert len(numbered(reading, "cells")) == len(expected), what
        elif name == "cells_17_to_48_v":
            assert all(reading.get(f"cells.{n}", 0.0) == expected for n in range(17, 49)), what
        elif name in ("ntc_celsius", "temperatures_c"):
            assert_value_list(numbered(reading, "temperatures"), expected, what)
        elif name == "ntc_count":
            assert len(numbered(reading, "temperatures")) == expected, what
        elif name == "fet_bits":
            assert (reading["charge_mos"], reading["discharge_mos"]) == (
                bool(expected & 1),
                bool(expected & 2),
            ), what
        elif name == "balance_bits_low":
            assert reading["balancing_bits"] & 0xFFFF == expected, what
        elif name == "software_version_byte":
            major, minor = reading["software_version"].split(".")
            assert int(major) << 4 | int(minor) == expected, what
        elif name == "protection_flags":
            flagged = {flag.partition(" (")[0] for flag in expected}
            alarms = {k.removeprefix("alarms."): v for k, v in reading.items() if "alarms." in k}
            assert flagged <= alarms.keys(), what
            assert {k for k, v in alarms.items() if v} == flagged, what
        elif name in COUNTERS:
            ours = name.replace("battery_", "pack_")
            assert reading[f"protection_count.{ours}"] == expected, what
        elif (kind, name) in NAMED:
            assert reading[name if kind != "ant" else "state"] == NAMED[kind, name][expected], what
        elif name.endswith("_name"):
            field = {"battery_status_name": "state", "state_name": "state"}.get(
                name, name.removesuffix("_name")
            )
            assert reading[field] == expected.lower(), what
        elif name in ("meter_type", "charge_state"):
            table = victron.METER_TYPES if name == "meter_type" else victron.CHARGE_STATES
            assert reading[name] == table[expected], what
        else:
            pytest.fail(f"{what}: no mapping for this expected key")


def assert_value_list(actual: list, expected: list, what: str) -> None:
    assert len(actual) == len(expected), what
    for n, (a, e) in enumerate(zip(actual, expected, strict=True), start=1):
        assert_value(a, e, f"{what}[{n}]")


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_decodes_to_expected_values(vector: dict) -> None:
    reading = decode_vector(vector)
    check_expected(vector, reading)
    assert all(isinstance(v, bool | int | float | str) for v in reading.values())
    assert not any(isinstance(v, float) and not math.isfinite(v) for v in reading.values())


def test_all_vectors_are_covered() -> None:
    assert len(VECTORS) == 26
    assert {v["kind"] for v in VECTORS} == {"jbd", "daly", "ant", "victron_ble"}


@pytest.mark.parametrize(
    "vector",
    [v for v in VECTORS if "advertisement_hex" in v],
    ids=lambda v: v["id"],
)
def test_victron_decryption_matches_published_plaintext(vector: dict) -> None:
    advertisement = bytes.fromhex(vector["advertisement_hex"])
    record_type, plaintext = victron.decrypt(advertisement, bytes.fromhex(vector["key_hex"]))
    assert record_type == int(vector["header"]["record_type"], 16)
    # The source pads the ciphertext to a whole block; the padding byte decrypts to noise.
    assert plaintext == bytes.fromhex(vector["decrypted_hex"])[: len(plaintext)]


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS if "request_hex" in v], ids=lambda v: v["id"]
)
def test_request_builders_match_published_requests(vector: dict) -> None:
    published = bytes.fromhex(vector["request_hex"])
    if vector["kind"] == "jbd":
        built = jbd.request(published[2])
    elif vector["kind"] == "daly":
        built = daly.request(published[2], "serial")
    else:
        built = ant.LEGACY_REQUEST if published[0] == 0xDB else ant.STATUS_REQUEST
    assert built == published
