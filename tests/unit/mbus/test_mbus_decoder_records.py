"""Decoder details the shared frames do not cover, and the DecodeError contract."""

from __future__ import annotations

import math
import struct

import pytest
from edgeos.workers.mbus import DecodeError, decode
from edgeos.workers.mbus.decoder import values
from edgeos.workers.mbus.decoder.frame import long_frame
from mbus_testdata import load_frame

# ID 12345678, manufacturer KAM (2D 2C), version 1, medium 02 electricity, access 3, status 0
HEADER = bytes.fromhex("78563412 2D2C 01 02 03 00 0000")


def records_of(record_bytes: bytes) -> list[dict]:
    return decode(long_frame(0x08, 0x05, 0x72, HEADER + record_bytes))["records"]


def single(record_bytes: bytes) -> dict:
    (record,) = records_of(record_bytes)
    return record


def test_header_fields() -> None:
    result = decode(long_frame(0x08, 0x05, 0x72, HEADER))
    assert result == {
        "address": 5, "id": "12345678", "manufacturer": "KAM", "version": 1,
        "medium": "Electricity", "access_number": 3, "status": 0, "signature": 0,
        "secondary_address": "123456782D2C0102", "records": [],
    }


@pytest.mark.parametrize(("data", "expected"), [
    (bytes.fromhex("78563412"), 12345678),
    (bytes.fromhex("0200F0"), -2),  # F in the top nibble: negative
    (bytes.fromhex("DDB4EB"), 110413),  # libmbus: high nibble A-F counts 0, low keeps value
    (bytes.fromhex("99999999"), 99999999),
])
def test_bcd(data: bytes, expected: int) -> None:
    assert values.bcd(data) == expected


@pytest.mark.parametrize(("record", "expected"), [
    ("01 13 FF", -0.001),  # int8 two's complement, volume 1e-3 m^3
    ("03 13 FF FF 7F", 8388.607),  # int24
    ("07 03 01 00 00 00 00 00 00 80", -(2**63) + 1),  # int64, Wh
    ("0E 03 90 78 56 34 12 00", 1234567890.0),  # 12-digit BCD
])
def test_integer_and_bcd_records(record: str, expected: float) -> None:
    assert single(bytes.fromhex(record))["value"] == pytest.approx(expected, rel=1e-12)


def test_real_record_is_scaled_and_nan_becomes_none() -> None:
    assert single(b"\x05\x2e" + struct.pack("<f", 1.5))["value"] == 1500.0  # kW -> W
    assert single(b"\x05\x2e" + struct.pack("<f", math.nan))["value"] is None


@pytest.mark.parametrize(("record", "expected"), [
    ("04 6D 1A 2F 65 11", "2011-01-05T15:26:00Z"),
    ("04 6D 10 09 05 C5", "1996-05-05T09:16:00Z"),  # years 81-99 without hundreds: 19xx
    ("04 6D 10 29 05 C5", "2096-05-05T09:16:00Z"),  # hundred-year field = 1
    ("02 6C 5F 1C", "2010-12-31"),
    ("06 6D 05 04 08 16 27 00", "2016-07-22T08:04:05Z"),  # type I with seconds
    ("04 FD 70 1A 2F 65 11", "2011-01-05T15:26:00Z"),  # date and time of battery change
])
def test_dates(record: str, expected: str) -> None:
    got = single(bytes.fromhex(record))
    assert got["value"] == expected
    assert got["unit"] == "-"


def test_invalid_time_flag_gives_no_value() -> None:
    assert single(bytes.fromhex("04 6D 9A 2F 65 11"))["value"] is None


def test_plain_text_vif_with_correction_vife() -> None:
    # VIF FC, text "%RH" (sent reversed), VIFE 74 = *10^-2
    got = single(bytes.fromhex("02 FC 03 48 52 25 74 D4 11"))
    assert (got["quantity"], got["unit"], got["value"]) == ("%RH", "-", 45.64)


@pytest.mark.parametrize(("vife", "expected"), [
    ("73", 123 * 1e-3),  # multiplicative 10^(3-6)
    ("7D", 123 * 1000.0),  # multiplicative 10^3
    ("7B", 123 + 1.0),  # additive 10^(3-3)
])
def test_vife_corrections(vife: str, expected: float) -> None:
    got = single(bytes.fromhex(f"01 83 {vife} 7B"))  # Wh, 1 byte = 123
    assert got["value"] == pytest.approx(expected)


def test_no_corrections_after_manufacturer_specific_vife() -> None:
    got = single(bytes.fromhex("01 83 FF 74 7B"))  # VIFE FF: the rest is the maker's
    assert got["value"] == 123.0


@pytest.mark.parametrize(("record", "expected"), [
    ("0D 78 03 43 42 41", "ABC"),  # text, sent reversed
    ("0D 13 C2 34 12", 1.234),  # positive BCD, 4 digits, scaled to m^3
    ("0D 13 D2 34 12", -1.234),  # negative BCD
    ("0D FD 16 E2 01 02", "02 01"),  # 2-byte binary, most significant byte first
    ("0D FD 16 F1" + " AA" * 20, " ".join(["AA"] * 20)),  # 4 * (F1 - EC) = 20 bytes
])
def test_lvar(record: str, expected: object) -> None:
    value = single(bytes.fromhex(record))["value"]
    assert value == (pytest.approx(expected) if isinstance(expected, float) else expected)


def test_filler_and_trailers() -> None:
    got = records_of(bytes.fromhex("2F 2F 01 FD 17 00 2F 1F AB 2F CD"))
    assert [r["function"] for r in got] == ["Instantaneous value", "More records follow"]
    assert got[1]["value"] == "AB 2F CD"  # everything after the trailer DIF, as hex


def test_storage_tariff_subunit_from_difes() -> None:
    got = single(bytes.fromhex("C4 8F 5F 13 01 00 00 00"))
    assert got["storage"] == 1 | 0xF << 1 | 0xF << 5
    assert got["tariff"] == 1 << 2
    assert got["subunit"] == 1 << 1


def test_fixed_data_structure_binary_and_stored() -> None:
    data = bytes.fromhex("78563412 0A C0 E9 7E 01000000 35010000")  # status: binary, stored
    result = decode(long_frame(0x08, 0x05, 0x73, data))
    first, second = result["records"]
    assert (first["value"], first["unit"], first["function"]) == (1.0, "l", "Stored value")
    assert second["value"] == 0x135
    assert result["medium"] == "Water"


@pytest.mark.parametrize(("frame", "reason"), [
    (b"", "too short"),
    (bytes.fromhex("10 5B 01 5C 16 00 00 00 00"), "start"),
    (bytes.fromhex("68 04 03 68 08 01 72 7B 16 00"), "length fields differ"),
    (bytes.fromhex("68 02 02 68 08 01 09 16"), "too short"),
    (bytes.fromhex("68 02 02 68 08 01 09 16 00"), "below the minimum"),
    (bytes.fromhex("68 05 05 68 08 01 72 00 7B 16"), "length mismatch"),
    (bytes.fromhex("68 03 03 68 08 01 72 7B 17"), "stop"),
    (bytes.fromhex("68 03 03 68 08 01 72 7C 16"), "checksum"),
    (long_frame(0x08, 1, 0x72, HEADER[:5]), "truncated header"),
    (long_frame(0x08, 1, 0x72, HEADER + bytes.fromhex("04 13 01 00")), "truncated record"),
    (long_frame(0x08, 1, 0x72, HEADER + bytes.fromhex("84")), "truncated record"),
    (long_frame(0x08, 1, 0x72, HEADER + bytes.fromhex("0D 13 FF")), "reserved LVAR"),
    (long_frame(0x08, 1, 0x72, HEADER + bytes.fromhex("3F")), "reserved special-function"),
    (long_frame(0x08, 1, 0x72, HEADER + b"\x84" + b"\x80" * 11), "more than 10 DIFEs"),
    (long_frame(0x08, 1, 0x72, HEADER + b"\x04\x83" + b"\x80" * 11), "more than 10 VIFEs"),
    (long_frame(0x08, 1, 0x51, HEADER), "unsupported CI"),
    (long_frame(0x08, 1, 0x73, bytes(15)), "fixed data structure"),
])
def test_corrupt_frames_raise_decode_error(frame: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode(frame)


def test_non_bytes_input_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="expected bytes"):
        decode("68 03 03 68")  # type: ignore[arg-type]


def test_decode_error_is_a_value_error() -> None:
    assert issubclass(DecodeError, ValueError)


def test_corrupted_shared_frame_checksum() -> None:
    frame = bytearray(load_frame("kamstrup_multical_601"))
    frame[-2] ^= 0xFF
    with pytest.raises(DecodeError, match="checksum"):
        decode(bytes(frame))
