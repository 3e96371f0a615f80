"""Property-based fuzzing: whatever the bytes, decode returns JSON-able data or DecodeError."""

from __future__ import annotations

import json

from edgeos.workers.mbus import DecodeError, decode
from edgeos.workers.mbus.decoder.frame import long_frame, pop_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mbus_testdata import frame_names, load_frame

RECORD_KEYS = {"value", "unit", "quantity", "function", "storage", "tariff", "subunit"}
VALID_FRAMES = [load_frame(name) for name in frame_names()]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decode_or_error(frame: bytes) -> None:
    """The property: a well-formed, JSON-serialisable result, or DecodeError and nothing else."""
    try:
        result = decode(frame)
    except DecodeError as exc:
        assert str(exc)
        return
    json.dumps(result, allow_nan=False)
    for record in result["records"]:
        assert set(record) == RECORD_KEYS
        assert record["value"] is None or isinstance(record["value"], float | str)


def reframe(frame: bytes, body: bytes) -> bytes:
    """Wrap a mutated body with correct length and checksum so the record parser is reached."""
    return long_frame(body[0], body[1], body[2], body[3:]) if len(body) >= 3 else frame


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    decode_or_error(data)


@FUZZ
@given(st.binary(max_size=252))
def test_random_user_data_in_valid_framing(data: bytes) -> None:
    for ci in (0x72, 0x73):
        decode_or_error(long_frame(0x08, 0x01, ci, data))


@FUZZ
@given(st.sampled_from(VALID_FRAMES), st.data())
def test_mutated_valid_frames(frame: bytes, data: st.DataObject) -> None:
    body = bytearray(frame[4:-2])
    for _ in range(data.draw(st.integers(1, 6))):
        action = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        position = data.draw(st.integers(3, max(3, len(body) - 1)))
        if action == "flip" and position < len(body):
            body[position] = data.draw(st.integers(0, 255))
        elif action == "insert" and len(body) < 255:
            body.insert(position, data.draw(st.integers(0, 255)))
        elif action == "delete" and position < len(body):
            del body[position]
        elif action == "truncate":
            del body[position:]
    decode_or_error(reframe(frame, bytes(body)))
    decode_or_error(frame[:4] + bytes(body) + frame[-2:])  # stale length and checksum


NOISE = st.binary(max_size=60).map(lambda b: b.replace(b"\x10", b"").replace(b"\x68", b"")
                                   .replace(b"\xe5", b""))


@FUZZ
@given(NOISE, st.sampled_from(VALID_FRAMES), st.binary(max_size=40), st.booleans())
def test_resync_finds_the_frame_behind_noise(before: bytes, frame: bytes, after: bytes,
                                            final: bool) -> None:
    """Noise that cannot start a frame is dropped and the frame behind it comes out whole."""
    buf = bytearray(before + frame + after)
    assert pop_frame(buf, final=final) == frame
