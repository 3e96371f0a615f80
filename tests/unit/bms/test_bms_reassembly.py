"""Reassembly of BLE notifications and serial reads into whole frames."""

from __future__ import annotations

import pytest
from bms_unit_support import load_vectors
from edgeos.workers.bms import DecodeError
from edgeos.workers.bms.reassembly import Reassembler, split_frames

VECTORS = {v["id"]: v for v in load_vectors()}
JBD_BASIC = bytes.fromhex(VECTORS["jbd_basic_4s_sp04s034"]["frame_hex"])
JBD_CELLS = bytes.fromhex(VECTORS["jbd_cells_4s_sp04s034"]["frame_hex"])
ANT_STATUS = bytes.fromhex(VECTORS["ant_v2021_status_16s"]["frame_hex"])
ANT_LEGACY = bytes.fromhex(VECTORS["ant_legacy_status_14s"]["frame_hex"])
DALY_CELLS = [bytes.fromhex(h) for h in VECTORS["daly_0x95_cell_voltages_16s"]["frames_hex"]]


def notifications(data: bytes, size: int = 20) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize(
    ("protocol", "frames"),
    [
        ("jbd", [JBD_BASIC, JBD_CELLS]),
        ("ant", [ANT_STATUS, ANT_LEGACY, ANT_STATUS]),
        ("daly", DALY_CELLS[:6]),
    ],
)
def test_frames_from_20_byte_notifications(protocol: str, frames: list[bytes]) -> None:
    reassembler = Reassembler(protocol)
    found = []
    for chunk in notifications(b"".join(frames)):
        found += reassembler.feed(chunk)
    assert found == frames


def test_a_frame_completes_only_with_its_last_byte() -> None:
    reassembler = Reassembler("jbd")
    assert reassembler.feed(JBD_BASIC[:-1]) == []
    assert reassembler.feed(JBD_BASIC[-1:]) == [JBD_BASIC]


def test_garbage_and_corrupt_candidates_are_skipped_with_a_reason() -> None:
    corrupt = bytearray(JBD_CELLS)
    corrupt[6] ^= 0xFF
    reassembler = Reassembler("jbd")
    assert reassembler.feed(b"\x00\x13\x77" + bytes(corrupt)) == []
    assert reassembler.last_error is not None and "checksum" in reassembler.last_error
    assert reassembler.feed(b"\xdd" + JBD_BASIC) == [JBD_BASIC]


def test_split_marker_at_chunk_end_is_kept() -> None:
    reassembler = Reassembler("ant")
    assert reassembler.feed(b"\x01\x02" + ANT_LEGACY[:3]) == []
    assert reassembler.feed(ANT_LEGACY[3:]) == [ANT_LEGACY]


def test_impossible_length_resynchronises() -> None:
    reassembler = Reassembler("daly")
    assert reassembler.feed(b"\xa5\x01\x90\x20" + DALY_CELLS[0]) == [DALY_CELLS[0]]


def test_reset_drops_a_partial_frame() -> None:
    reassembler = Reassembler("jbd")
    reassembler.feed(JBD_BASIC[:10])
    reassembler.reset()
    assert reassembler.feed(JBD_CELLS) == [JBD_CELLS]


def test_split_frames_back_to_back() -> None:
    assert split_frames("jbd", JBD_BASIC + JBD_CELLS) == [JBD_BASIC, JBD_CELLS]
    assert split_frames("daly", b"".join(DALY_CELLS)) == DALY_CELLS


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00" + JBD_CELLS, "expected a jbd frame start"),
        (JBD_CELLS + b"\x77", "expected a jbd frame start"),
        (JBD_CELLS[:-2], "header announces 15 bytes, 13 present"),
        (JBD_CELLS[:3], "truncated"),
        (JBD_CELLS[:-3] + b"\x00\x00\x77", "checksum mismatch"),
    ],
)
def test_split_frames_is_strict(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        split_frames("jbd", data)


def test_victron_has_no_stream() -> None:
    with pytest.raises(ValueError, match="not a byte stream"):
        Reassembler("victron")
