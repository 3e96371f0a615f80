"""Frame checks reject corrupt frames with a clear reason; protocol details and options."""

from __future__ import annotations

import pytest
from bms_unit_support import ant_frame, ant_legacy_seal, daly_frame, jbd_frame, load_vectors
from edgeos.workers.bms import DecodeError, Options, decode
from edgeos.workers.bms.model import add_cells
from edgeos.workers.bms.protocols import ant, get, victron

VECTORS = {v["id"]: v for v in load_vectors()}
JBD_BASIC = bytes.fromhex(VECTORS["jbd_basic_4s_sp04s034"]["frame_hex"])
JBD_CELLS = bytes.fromhex(VECTORS["jbd_cells_4s_sp04s034"]["frame_hex"])
DALY_SOC = bytes.fromhex(VECTORS["daly_0x90_soc"]["frame_hex"])
ANT_STATUS = bytes.fromhex(VECTORS["ant_v2021_status_16s"]["frame_hex"])
ANT_LEGACY = bytes.fromhex(VECTORS["ant_legacy_status_14s"]["frame_hex"])
SHUNT = VECTORS["victron_smartshunt_battery_monitor"]
SHUNT_ADV = bytes.fromhex(SHUNT["advertisement_hex"])
SHUNT_KEY = bytes.fromhex(SHUNT["key_hex"])


def with_byte(frame: bytes, index: int, value: int) -> bytes:
    data = bytearray(frame)
    data[index] = value
    return bytes(data)


CORRUPT = [
    ("jbd", b"", "too short"),
    ("jbd", with_byte(JBD_CELLS, 0, 0xDC), "must start with 0xDD"),
    ("jbd", with_byte(JBD_CELLS, -1, 0x78), "must end with 0x77"),
    ("jbd", JBD_CELLS[:-1], "length mismatch"),
    ("jbd", with_byte(JBD_CELLS, 3, 0x09), "length mismatch"),
    ("jbd", with_byte(JBD_CELLS, 5, 0x46), "checksum mismatch"),
    ("jbd", jbd_frame(0x03, JBD_BASIC[4:-3], status=0x80), "error status 0x80"),
    ("jbd", jbd_frame(0x06, b"\x00"), "not supported"),
    ("jbd", bytes.fromhex("DD A5 03 00 FF FD 77"), "JBD request"),
    ("jbd", jbd_frame(0x03, JBD_BASIC[4:20]), "payload too short"),
    ("jbd", jbd_frame(0x03, JBD_BASIC[4:29]), "names 3 NTC sensors"),
    ("jbd", jbd_frame(0x04, b"\x0f\x45\x0f"), "odd length"),
    ("jbd", jbd_frame(0x04, bytes(66)), "at most 32"),
    ("jbd", jbd_frame(0xAA, bytes(20)), "too short"),
    ("daly", DALY_SOC[:-1], "must be 13 bytes"),
    ("daly", with_byte(DALY_SOC, 0, 0xA4), "must start with 0xA5"),
    ("daly", with_byte(DALY_SOC, 3, 0x07), "data length must be 8"),
    ("daly", with_byte(DALY_SOC, 6, 0x01), "checksum mismatch"),
    ("daly", daly_frame(0x99, b""), "not supported"),
    ("daly", daly_frame(0x95, b"\x00"), "frame number 0"),
    ("daly", daly_frame(0x96, b"\x11"), "frame number 17"),
    ("ant", b"\x01\x02", "not an ANT frame"),
    ("ant", ANT_STATUS[:-1], "length mismatch"),
    ("ant", with_byte(ANT_STATUS, -1, 0x56), "must end with AA 55"),
    ("ant", with_byte(ANT_STATUS, 40, 0x00), "CRC mismatch"),
    ("ant", ant_frame(0x12, bytes(32)), "not supported"),
    ("ant", ant_frame(0x11, bytes(200)), "data bytes"),
    ("ant", ant_frame(0x11, bytes(3) + b"\x21" + bytes(200)), "at most 32"),
    ("ant", ANT_LEGACY[:-1], "must be 140 bytes"),
    ("ant", with_byte(ANT_LEGACY, 10, 0x00), "checksum mismatch"),
    ("ant", ant_legacy_seal(with_byte(ANT_LEGACY, 123, 33)), "at most 32"),
]


@pytest.mark.parametrize(("protocol", "frame", "reason"), CORRUPT)
def test_corrupt_frames_are_rejected_with_a_reason(protocol: str, frame: bytes, reason: str):
    with pytest.raises(DecodeError, match=reason):
        decode(protocol, [frame])


@pytest.mark.parametrize(
    ("advertisement", "key", "reason"),
    [
        (SHUNT_ADV, None, "key is needed"),
        (SHUNT_ADV, SHUNT_KEY[:15], "16 bytes"),
        (SHUNT_ADV, b"\x00" + SHUNT_KEY[1:], "does not fit"),
        (SHUNT_ADV[:8], SHUNT_KEY, "too short"),
        (with_byte(SHUNT_ADV, 0, 0x11), SHUNT_KEY, "first byte 0x11"),
        (with_byte(SHUNT_ADV, 4, 0x05), SHUNT_KEY, "record type 0x05"),
        (SHUNT_ADV[:20], SHUNT_KEY, "too short: 12 bytes"),
    ],
)
def test_victron_rejections(advertisement: bytes, key: bytes | None, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode("victron", [advertisement], Options(key=key))


def test_victron_accepts_company_id_prefix() -> None:
    expected = decode("victron", [SHUNT_ADV], Options(key=SHUNT_KEY))
    assert decode("victron", [b"\xe1\x02" + SHUNT_ADV], Options(key=SHUNT_KEY)) == expected


def test_victron_ctr_counter_runs_little_endian_across_blocks() -> None:
    # Two blocks of zeros encrypt to the raw key stream: block 2 must use counter nonce + 1.
    nonce = 0x40FF
    stream = victron._ctr(SHUNT_KEY, nonce, bytes(32))
    assert stream[16:] == victron._ctr(SHUNT_KEY, nonce + 1, bytes(16))
    assert stream[:16] != stream[16:]


def test_victron_not_available_fields_are_left_out() -> None:
    # voltage 0x7FFF, current 0x1FFFFF, consumed 0xFFFFF, soc 0x3FF: all "not available".
    bits = 3 | 0x1FFFFF << 2 | 0xFFFFF << 24 | 0x3FF << 44
    plaintext = b"\xff\xff" + b"\xff\x7f" + bytes(4) + bits.to_bytes(7, "little")
    reading = victron.decode_record(victron.BATTERY_MONITOR, plaintext)
    assert not {"voltage", "current", "power", "soc", "consumed_ah", "time_to_go_min"} & set(
        reading
    )
    assert reading["aux_mode"] == "disabled"


def test_jbd_merges_basic_and_cells_and_flags_protection() -> None:
    locked = bytes.fromhex(VECTORS["jbd_basic_4s_mosfet_software_lock"]["frame_hex"])
    reading = decode("jbd", [locked, JBD_CELLS])
    assert reading["alarms.mosfet_software_lock"] is True
    assert sum(v is True for k, v in reading.items() if k.startswith("alarms.")) == 1
    assert reading["cells.4"] == 3.901 and reading["voltage"] == 15.47


def test_jbd_discharging_current_is_negative_and_power_follows() -> None:
    reading = decode("jbd", [bytes.fromhex(VECTORS["jbd_basic_8s_560ah_discharging"]["frame_hex"])])
    assert reading["current"] == -6.04
    assert reading["power"] == pytest.approx(26.4 * -6.04)


def test_jbd_balancing_bits_span_low_and_high_words() -> None:
    payload = bytearray(JBD_BASIC[4:-3])
    payload[12:16] = b"\x00\x05\x80\x00"  # cells 1, 3 and 32
    reading = decode("jbd", [jbd_frame(0x03, bytes(payload))])
    assert reading["balancing"] is True and reading["balancing_bits"] == 0x8000_0005


@pytest.mark.parametrize(("sign", "current"), [(1, 2.1), (-1, -2.1)])
def test_daly_current_sign_option(sign: int, current: float) -> None:
    reading = decode("daly", [DALY_SOC], Options(daly_current_sign=sign))
    assert reading["current"] == current
    assert reading["power"] == pytest.approx(53.2 * current)


def test_daly_options_are_validated() -> None:
    with pytest.raises(ValueError, match="daly_current_sign"):
        Options(daly_current_sign=0)
    with pytest.raises(ValueError, match="ant_variant"):
        Options(ant_variant="2019")


def test_daly_cells_and_temperatures_trimmed_to_status_counts() -> None:
    status = daly_frame(0x94, bytes((4, 2, 1, 0, 0, 0, 7)))
    cells = [daly_frame(0x95, b"\x01\x0c\xfd\x0c\xfe\x0c\xff"), daly_frame(0x95, b"\x02\x0c\xfa")]
    temps = daly_frame(0x96, bytes((1, 65, 63, 0, 0, 0, 0, 0)))
    reading = decode("daly", [status, *cells, temps])
    assert [reading[f"cells.{n}"] for n in range(1, 5)] == [3.325, 3.326, 3.327, 3.322]
    assert "cells.5" not in reading and "temperatures.3" not in reading
    assert (reading["temperatures.1"], reading["temperatures.2"]) == (25, 23)
    assert (reading["cell_min_index"], reading["cell_max_index"]) == (4, 3)
    assert reading["charger_connected"] is True and reading["cycles"] == 7


def test_daly_failures_and_balancing() -> None:
    failures = daly_frame(0x98, bytes((0b0000_0010, 0, 0b0000_1000, 0, 0, 0, 0b0000_0100, 9)))
    reading = decode("daly", [failures, daly_frame(0x97, b"\x01\x00\x00\x00\x00\x80")])
    fired = {k.removeprefix("alarms.") for k, v in reading.items() if k.startswith("alarms.") and v}
    assert fired == {"cell_overvoltage", "discharge_overcurrent", "short_circuit"}
    assert reading["alarms.cell_overvoltage_warning"] is False
    assert reading["fault_code"] == 9
    assert reading["balancing"] is True and reading["balancing_bits"] == 1 | 1 << 47


def test_daly_temperature_extremes() -> None:
    reading = decode("daly", [daly_frame(0x92, bytes((70, 2, 35, 1)))])
    assert reading == {
        "temperature_max": 30,
        "temperature_max_index": 2,
        "temperature_min": -5,
        "temperature_min_index": 1,
    }


def test_ant_mos_reason_codes_become_alarms() -> None:
    frame = bytearray(ANT_STATUS)
    at = 34 + 2 * 16 + 2 * 2
    frame[at + 12 : at + 14] = bytes((0x03, 0x0C))  # charge: overcurrent, discharge: short
    reading = decode("ant", [ant_frame(0x11, bytes(frame[6:-4]))])
    assert reading["charge_mos"] is False and reading["discharge_mos"] is False
    assert reading["charge_mos_status"] == "overcurrent_protection"
    assert reading["discharge_mos_status"] == "short_circuit_protection"
    fired = {k.removeprefix("alarms.") for k, v in reading.items() if k.startswith("alarms.") and v}
    assert fired == {"charge_overcurrent", "short_circuit"}


def test_every_alarm_is_a_named_boolean() -> None:
    for frame, protocol in [(JBD_BASIC, "jbd"), (ANT_STATUS, "ant"), (ANT_LEGACY, "ant")]:
        alarms = {k: v for k, v in decode(protocol, [frame]).items() if k.startswith("alarms.")}
        assert alarms and all(v is False for v in alarms.values())
    assert len([k for k in decode("ant", [ANT_STATUS]) if k.startswith("alarms.")]) == len(
        ant.ALARMS
    )


def test_only_carried_fields_appear() -> None:
    assert set(decode("jbd", [JBD_CELLS])) == {
        "cells.1", "cells.2", "cells.3", "cells.4", "cell_min", "cell_min_index",
        "cell_max", "cell_max_index", "cell_delta", "cell_avg",
    }  # fmt: skip
    assert "voltage" not in decode("daly", [daly_frame(0x93, bytes(8))])


def test_cell_statistics_pick_the_first_of_equal_cells() -> None:
    reading: dict = {}
    add_cells(reading, {1: 3300, 2: 3400, 3: 3300, 4: 3400})
    assert (reading["cell_min_index"], reading["cell_max_index"]) == (1, 2)
    assert reading["cell_delta"] == 0.1 and reading["cell_avg"] == 3.35


def test_unknown_protocol() -> None:
    with pytest.raises(ValueError, match="unknown BMS protocol"):
        get("jk")
