"""Medium names (EN 13757-3) for every code 0x00-0x3F, worded as libmbus prints them
(mbus_data_variable_medium_lookup in libmbus's mbus-protocol.c), read from real frames."""

from __future__ import annotations

import pytest
from edgeos.workers.mbus import decode
from edgeos.workers.mbus.decoder.frame import long_frame

# Transcribed from libmbus, one code per entry; None: libmbus has no case for the code.
LIBMBUS = [
    "Other", "Oil", "Electricity", "Gas", "Heat: Outlet", "Steam", "Warm water (30-90°C)",
    "Water", "Heat Cost Allocator", "Compressed Air", "Cooling load meter: Outlet",
    "Cooling load meter: Inlet", "Heat: Inlet", "Heat / Cooling load meter", "Bus/System",
    "Unknown Medium",
    # 0x10
    "Irrigation Water", "Water Logger", "Gas Logger", "Gas Converter", "Calorific value",
    "Hot water (>90°C)", "Cold water", "Dual water", "Pressure", "A/D Converter",
    "Smoke Detector", "Ambient Sensor", "Gas Detector", None, None, None,
    # 0x20
    "Breaker: Electricity", "Valve: Gas or Water", "Reserved", "Reserved", "Reserved",
    "Customer Unit: Display Device", "Reserved", "Reserved", "Waste Water", "Garbage",
    "Reserved", "Reserved", "Reserved", "Reserved", "Reserved", "Reserved",
    # 0x30
    "Service Unit", "Reserved", "Reserved", "Reserved", "Reserved", None,
    "Radio Converter: System", "Radio Converter: Meter", "Reserved", "Reserved", "Reserved",
    "Reserved", "Reserved", "Reserved", "Reserved", "Reserved",
]


@pytest.mark.parametrize("code", range(0x40))
def test_medium_of_every_code_as_libmbus_words_it(code: int) -> None:
    header = bytes.fromhex("78563412 2D2C 01") + bytes([code]) + bytes.fromhex("03 00 0000")
    expected = LIBMBUS[code] or f"Unknown medium (0x{code:02x})"
    assert decode(long_frame(0x08, 0x05, 0x72, header))["medium"] == expected


def test_codes_beyond_the_table_are_unknown_not_invented() -> None:
    header = bytes.fromhex("78563412 2D2C 01 4A 03 00 0000")
    assert decode(long_frame(0x08, 0x05, 0x72, header))["medium"] == "Unknown medium (0x4a)"
