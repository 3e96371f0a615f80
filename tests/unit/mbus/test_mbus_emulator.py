"""Emulated meter identity: re-addressing, secondary-address matching, collisions."""

from __future__ import annotations

import pytest
from edgeos.workers.mbus import decode
from edgeos.workers.mbus.decoder import DecodeError
from edgeos.workers.mbus.decoder.frame import (
    ADDRESS_NETWORK,
    C_REQ_UD2,
    C_SND_UD,
    CI_SELECT_SECONDARY,
    long_frame,
    short_frame,
)
from edgeos.workers.mbus.emulator import EmulatedMeter, MeterEmulator
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


def test_two_selected_meters_collide_at_the_network_address() -> None:
    bus = MeterEmulator([EmulatedMeter(KAMSTRUP, address=1),
                         EmulatedMeter(load_frame("kamstrup_multical_601"), address=2)])
    try:
        select = long_frame(C_SND_UD, ADDRESS_NETWORK, CI_SELECT_SECONDARY,
                            secondary_mask("FFFFFFFF2D2CFFFF"))  # both are Kamstrup's
        assert bus._answer(select) == b"\xe5"  # identical ACKs overlap into one
        with pytest.raises(DecodeError):
            decode(bus._answer(short_frame(C_REQ_UD2, ADDRESS_NETWORK)))
        bus._answer(long_frame(C_SND_UD, ADDRESS_NETWORK, CI_SELECT_SECONDARY,
                               secondary_mask("14839120FFFFFFFF")))
        assert decode(bus._answer(short_frame(C_REQ_UD2, ADDRESS_NETWORK)))["id"] == "14839120"
    finally:
        bus.stop()
