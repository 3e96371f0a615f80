"""Raw captures in shared/testdata/bms decode, with the values their sources printed."""

from __future__ import annotations

import re

import pytest
from bms_unit_support import load_vectors, read_capture
from edgeos.workers.bms import DecodeError, decode
from edgeos.workers.bms.__main__ import parse_hex
from edgeos.workers.bms.protocols import ant

VECTORS = {v["id"]: v for v in load_vectors()}


def vector_frame(vector_id: str) -> bytes:
    return bytes.fromhex(VECTORS[vector_id]["frame_hex"])


def responses(path) -> list[bytes]:
    return [parse_hex(text) for direction, text in read_capture(path) if direction == "<<<"]


def test_jbd_sp04s034_session(bms_testdata) -> None:
    entries = read_capture(bms_testdata / "jbd" / "JBD-SP04S034-L4S-200A-B-U.txt")
    frames = [parse_hex(text) for _, text in entries]
    for request, response in zip(frames[::2], frames[1::2], strict=True):
        assert request[:2] == b"\xdd\xa5" and response[1] == request[2]
        assert decode("jbd", [response])
    basic_1, basic_2, cells_1, cells_2, model, counters = frames[1::2]
    assert basic_1 == vector_frame("jbd_basic_4s_sp04s034")
    assert cells_1 == vector_frame("jbd_cells_4s_sp04s034")
    first, second = decode("jbd", [basic_1]), decode("jbd", [basic_2])
    assert {k for k in first if first[k] != second[k]} == {"temperatures.2"}
    assert second["temperatures.2"] == 22.2
    assert decode("jbd", [cells_2])["cells.2"] == 3.902
    assert decode("jbd", [model]) == {"model": "JBD-SP04S034-L4S-200A-B-U"}
    assert decode("jbd", [counters])["protection_count.cell_overvoltage"] == 122


# ESPHome sensor name -> our key, for the values its log prints beside the frames.
ESPHOME = {
    "total voltage": "voltage",
    "current": "current",
    "power": "power",
    "capacity remaining": "capacity_remaining",
    "nominal capacity": "capacity_nominal",
    "charging cycles": "cycles",
    "balancer status bitmask": "balancing_bits",
    "errors bitmask": "protection_bits",
    "state of charge": "soc",
    "battery strings": "cell_count",
    "min cell voltage": "cell_min",
    "max cell voltage": "cell_max",
    "max voltage cell": "cell_max_index",
    "min voltage cell": "cell_min_index",
    "delta cell voltage": "cell_delta",
    "average cell voltage": "cell_avg",
}


def test_jbd_sp25s003_matches_esphome_log(bms_testdata) -> None:
    path = bms_testdata / "jbd" / "JBD-SP25S003-L16S-100A-100A-B.txt"
    reading = decode("jbd", responses(path))
    text = path.read_text(encoding="utf-8")
    logged = dict(re.findall(r"'jbd-bms-uart ([^']+)': Sending state (-?[\d.]+)", text))
    checked = 0
    for sensor, value in logged.items():
        if sensor.startswith("cell voltage "):
            key = f"cells.{sensor.removeprefix('cell voltage ')}"
        elif sensor == "software version":
            assert reading["software_version"] == f"{float(value):.1f}"
            continue
        elif sensor == "operation status bitmask":
            assert (reading["charge_mos"], reading["discharge_mos"]) == (True, False)
            continue
        elif sensor in ESPHOME:
            key = ESPHOME[sensor]
        else:
            assert sensor in ("charging power", "discharging power")  # ESPHome's own split
            continue
        assert reading[key] == pytest.approx(float(value), abs=5e-5), sensor
        checked += 1
    assert checked == 16 + len(ESPHOME)  # every cell and every mapped sensor was logged
    assert reading["production_date"] == "2022-02-16"  # "Date of manufacture: 2022.2.16"
    assert not any(key.startswith("temperatures.") for key in reading)  # no NTC fitted


def test_jbd_dp04s007_extended_basic_info(bms_testdata) -> None:
    entries = read_capture(bms_testdata / "jbd" / "JBD-DP04S007L4S100A-BLE.txt")
    basic = parse_hex(entries[1][1])
    assert basic == vector_frame("jbd_basic_4s_dp04s007_extended")
    assert decode("jbd", [basic])["capacity_remaining"] == 191.67
    with pytest.raises(ValueError, match="XX"):
        parse_hex(entries[3][1])  # the 0x04 answer was published with placeholders


def test_ant_ble_session(bms_testdata) -> None:
    path = bms_testdata / "ant" / "btsnoop_hci_ANT-BLE16ZMUB-reduced.txt"
    requests = [parse_hex(t) for d, t in read_capture(path) if d == ">>>"]
    assert ant.STATUS_REQUEST in requests
    answers = responses(path)
    assert answers[1] == vector_frame("ant_v2021_status_16s")
    statuses = [frame for frame in answers if frame[2] == ant.STATUS_FUNCTION]
    assert len(statuses) == 2
    later = decode("ant", [statuses[1]])
    assert later["voltage"] == 52.8 and later["cell_count"] == 16 and later["soc"] == 91
    assert later["cell_max"] == max(later[f"cells.{n}"] for n in range(1, 17))
    for frame in answers:
        if frame[2] != ant.STATUS_FUNCTION:
            with pytest.raises(DecodeError):  # device info, settings: not status frames
                decode("ant", [frame])


def test_ant_legacy_captures(bms_testdata) -> None:
    lines = (bms_testdata / "ant" / "model2019-req-dbdb00000000.txt").read_text().splitlines()
    frames = [parse_hex(line) for line in lines if line.strip()]
    assert frames[0] == vector_frame("ant_legacy_status_14s")
    assert len(frames) == 9
    for frame in frames:
        reading = decode("ant", [frame])
        cells = [reading[f"cells.{n}"] for n in range(1, reading["cell_count"] + 1)]
        assert reading["cell_count"] == 14 and "cells.15" not in reading
        assert reading["cell_max"] == max(cells) and reading["cell_min"] == min(cells)
        assert cells[reading["cell_max_index"] - 1] == reading["cell_max"]
        assert cells[reading["cell_min_index"] - 1] == reading["cell_min"]
        assert reading["voltage"] == pytest.approx(sum(cells), abs=0.1)  # 0.1 V resolution


def test_ant_2021_status_captures(bms_testdata) -> None:
    path = bms_testdata / "ant" / "model2021-req-7ea1010000be1855aa55.txt"
    lines = path.read_text().splitlines()
    frames = [parse_hex(line) for line in lines if line.strip()]
    assert len(frames) == 4
    for frame in frames:
        reading = decode("ant", [frame])
        assert [reading[f"cells.{n}"] for n in range(1, 15)] == [4.113] * 14
        assert "cells.15" not in reading
        assert reading["voltage"] == pytest.approx(14 * 4.113, abs=0.01)
        assert [reading[f"temperatures.{n}"] for n in range(1, 5)] == [28, 28, -40, 28]
        assert (reading["soc"], reading["soh"], reading["capacity_nominal"]) == (96, 100, 30.0)
        assert reading["charge_mos"] is True and reading["discharge_mos"] is False
