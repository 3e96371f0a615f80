"""Victron instant readout: the aux input reads 0xFFFF when it is not available, in
every aux mode of every record type that has one (battery monitor, DC energy meter)."""

from __future__ import annotations

import struct

import pytest
from edgeos.workers.bms.protocols import victron

AUX_KEYS = {"starter_voltage", "midpoint_voltage", "temperatures.1"}


def record(record_type: int, aux: int, aux_mode: int) -> bytes:
    """A decrypted payload: 12.34 V, 1.5 A, no alarm, the given aux value and mode."""
    head = struct.pack("<HhHH", 0xFFFF if record_type == victron.BATTERY_MONITOR else 2,
                       1234, 0, aux)
    bits = aux_mode | 1500 << 2
    if record_type == victron.BATTERY_MONITOR:
        bits |= 100 << 24 | 500 << 44  # 10.0 Ah consumed, 50.0 % state of charge
        return head + bits.to_bytes(7, "little")
    return head + bits.to_bytes(3, "little")


RECORD_TYPES = [victron.BATTERY_MONITOR, victron.DC_ENERGY_METER]


@pytest.mark.parametrize("record_type", RECORD_TYPES)
@pytest.mark.parametrize("aux_mode", [0, 1, 2, 3])
def test_aux_ffff_is_not_available_in_every_mode(record_type: int, aux_mode: int) -> None:
    reading = victron.decode_record(record_type, record(record_type, 0xFFFF, aux_mode))
    assert not AUX_KEYS & set(reading), reading
    assert (reading["voltage"], reading["current"]) == (12.34, 1.5)  # the rest is decoded
    assert reading["aux_mode"] == victron.AUX_MODES[aux_mode]


@pytest.mark.parametrize("record_type", RECORD_TYPES)
@pytest.mark.parametrize(("aux_mode", "aux", "key", "value"), [
    (0, 1250, "starter_voltage", 12.5),
    (0, 0x10000 - 5, "starter_voltage", -0.05),  # signed: just below zero is not 0xFFFF
    (1, 640, "midpoint_voltage", 6.4),
    (2, 29815, "temperatures.1", 25.0),  # kelvin in 0.01
])
def test_aux_values_that_are_there(record_type: int, aux_mode: int, aux: int, key: str,
                                   value: float) -> None:
    reading = victron.decode_record(record_type, record(record_type, aux, aux_mode))
    assert reading[key] == pytest.approx(value)
    assert not (AUX_KEYS - {key}) & set(reading)
