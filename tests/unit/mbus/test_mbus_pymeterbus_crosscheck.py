"""Cross-check against pyMeterBus (test-only dependency), a second independent decoder.

pyMeterBus 0.8.5 agrees with us on every numeric value it can decode. Its gaps are why
edgeos.workers.mbus.decoder owns the parser; they are pinned here so an upgrade that fixes
them shows up.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from edgeos.workers.mbus import decode
from mbus_testdata import frame_names, load_frame

meterbus = pytest.importorskip("meterbus")

PYMETERBUS_GAPS = {"manual_frame2", "example_binary16_lvar"}


@pytest.mark.parametrize("name", [n for n in frame_names() if n not in PYMETERBUS_GAPS])
def test_numeric_values_agree_with_pymeterbus(name: str) -> None:
    frame = load_frame(name)
    theirs = meterbus.load(frame).records
    ours = decode(frame)["records"]
    assert len(theirs) == len(ours)
    compared = 0
    for index, (their, our) in enumerate(zip(theirs, ours, strict=True)):
        value = their.value
        if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
            assert isinstance(our["value"], float), (name, index)
            assert math.isclose(our["value"], float(value), rel_tol=1e-6, abs_tol=1e-9), (
                name, index)
            compared += 1
    assert compared > 0


def test_pymeterbus_known_gaps() -> None:
    with pytest.raises(meterbus.exceptions.MBusFrameDecodeError):
        meterbus.load(load_frame("manual_frame2"))  # CI 0x73 fixed data structure
    assert len(meterbus.load(load_frame("example_binary16_lvar")).records) == 2  # libmbus: 1
    assert len(decode(load_frame("example_binary16_lvar"))["records"]) == 1
