"""Every shared frame decodes to what libmbus printed for it (README: how to compare)."""

from __future__ import annotations

import math

import pytest
from edgeos.workers.mbus import decode
from mbus_testdata import frame_names, load_frame, load_norm_xml

NAMES = frame_names()


def test_all_shared_frames_are_covered() -> None:
    assert len(NAMES) == 27


@pytest.mark.parametrize("name", NAMES)
def test_frame_matches_libmbus(name: str) -> None:
    expected = load_norm_xml(name)
    result = decode(load_frame(name))

    slave = expected.find("SlaveInformation")
    assert slave is not None
    assert result["id"] == slave.findtext("Id")
    assert result["manufacturer"] == slave.findtext("Manufacturer")
    assert result["medium"] == slave.findtext("Medium")
    assert result["access_number"] == int(slave.findtext("AccessNumber") or -1)
    assert result["status"] == int(slave.findtext("Status") or "-1", 16)
    if slave.find("Version") is not None:
        assert result["version"] == int(slave.findtext("Version") or -1)

    records = expected.findall("DataRecord")
    assert len(result["records"]) == len(records)
    for index, (want, got) in enumerate(zip(records, result["records"], strict=True)):
        where = f"{name} record {index}"
        assert got["function"] == want.findtext("Function"), where
        assert got["unit"] == (want.findtext("Unit") or ""), where
        assert got["storage"] == int(want.findtext("StorageNumber") or 0), where
        assert got["tariff"] == int(want.findtext("Tariff") or 0), where
        assert got["subunit"] == int(want.findtext("Device") or 0), where
        if want.find("Quantity") is not None:
            assert got["quantity"] == (want.findtext("Quantity") or ""), where
        _assert_value(want.findtext("Value") or "", got["value"], where)


def _assert_value(expected: str, value: object, where: str) -> None:
    if isinstance(value, float):
        assert math.isclose(value, float(expected), rel_tol=1e-6, abs_tol=1e-9), where
    else:  # dates, text and hex dumps compare as strings
        assert isinstance(value, str), where
        assert value == expected, where
