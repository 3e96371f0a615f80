"""Emulated meter identity: re-addressing and secondary-address matching."""

from __future__ import annotations

import pytest
from edgeos.workers.mbus import decode
from edgeos.workers.mbus.emulator import EmulatedMeter
from edgeos.workers.mbus.master import secondary_mask
from mbus_testdata import load_frame

KAMSTRUP = load_frame("kamstrup_382_005")  # A=0x78, secondary 14839120 2D2C 01 02


def test_address_defaults_to_the_frame_and_can_be_rewritten() -> None:
    assert EmulatedMeter(KAMSTRUP).address == 0x78
    moved = EmulatedMeter(KAMSTRUP, address=3)
    assert decode(moved.frame)["address"] == 3  # checksum recomputed, still decodes


@pytest.mark.parametrize(("mask", "selected"), [
    ("148391202D2C0102", True),
    ("1483912F2D2C0102", True),  # F: wildcard digit
    ("FFFFFFFFFFFFFFFF", True),
    ("FFFFFFFF2D2CFF02", True),
    ("148391212D2C0102", False),
    ("FFFFFFFF2D2D0102", False),
    ("FFFFFFFFFFFF0103", False),
])
def test_secondary_matching(mask: str, selected: bool) -> None:
    assert EmulatedMeter(KAMSTRUP).matches(secondary_mask(mask)) is selected


def test_fixed_structure_meter_matches_on_id_only() -> None:
    meter = EmulatedMeter(load_frame("manual_frame2"))  # ID 12345678, no manufacturer
    assert meter.matches(secondary_mask("12345678FFFFFFFF"))
    assert not meter.matches(secondary_mask("123456782D2CFFFF"))
