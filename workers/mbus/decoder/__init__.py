"""Wired M-Bus (EN 13757-2/-3) telegram decoder, stdlib only.

Why our own parser and not pyMeterBus: pyMeterBus 0.8.5 cannot decode CI 0x73
(fixed data structure) frames, does not know the 16..64-byte binary LVAR codes
(0xF0..0xF6, so `example_binary16_lvar` splits into two bogus records), and
reads type I (6-byte) date-times wrongly. Patching those from outside would mean
monkey-patching its record classes, and its output (Decimal values, units such
as "C" or "seconds", dates without seconds) would still need mapping to libmbus's
notation. The record format is small and fully specified, so owning it (~700
lines with the code tables) gives one place that matches libmbus (the reference
of the shared test data) record for record, including its
quirks (non-decimal BCD nibbles, the 2000-2080 year window). pyMeterBus stays a
test-only cross-check: tests/unit/mbus/test_mbus_pymeterbus_crosscheck.py
compares its numeric values with ours on every frame it can decode.

Layout: `frame` (link layer, shared with the master and emulator), `tables`
(VIF/medium code tables), `values` (data codings), `records` (variable data
records), `telegram` (header + dispatch by CI).
"""

from edgeos.workers.mbus.decoder.frame import DecodeError
from edgeos.workers.mbus.decoder.telegram import decode

__all__ = ["DecodeError", "decode"]
