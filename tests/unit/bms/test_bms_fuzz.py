"""Property-based fuzzing: whatever the bytes, a decoder returns a reading or raises
DecodeError, never anything else; the reassembler never raises and finds every frame."""

from __future__ import annotations

import contextlib
import math

from bms_unit_support import ant_frame, ant_legacy_seal, daly_frame, jbd_frame, load_vectors, reseal
from edgeos.workers.bms import DecodeError, Options, decode
from edgeos.workers.bms.protocols import NAMES, victron
from edgeos.workers.bms.reassembly import Reassembler, split_frames
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VECTORS = load_vectors()
VALID = {
    protocol: [
        bytes.fromhex(h)
        for v in VECTORS
        if v["kind"] == protocol
        for h in v.get("frames_hex") or [v["frame_hex"]]
    ]
    for protocol in ("jbd", "daly", "ant")
}
KEY = bytes.fromhex("aff4d0995b7d1e176c0c33ecb9e70dcd")
START_BYTES = {"jbd": {0xDD}, "daly": {0xA5}, "ant": {0x7E, 0xAA}}


def decodes_or_rejects(protocol: str, frames: list[bytes], options: Options | None = None) -> None:
    try:
        reading = decode(protocol, frames, options)
    except DecodeError as err:
        assert str(err)
        return
    for key, value in reading.items():
        assert isinstance(key, str) and isinstance(value, bool | int | float | str)
        assert not isinstance(value, float) or math.isfinite(value), key


@st.composite
def mutated(draw, frames: list[bytes]) -> bytes:
    """A valid frame with flipped, deleted or inserted bytes, or cut short."""
    frame = bytearray(draw(st.sampled_from(frames)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "delete", "insert", "truncate"]))
        at = draw(st.integers(0, max(0, len(frame) - 1)))
        if op == "set" and frame:
            frame[at] = draw(st.integers(0, 255))
        elif op == "delete" and frame:
            del frame[at]
        elif op == "insert":
            frame.insert(at, draw(st.integers(0, 255)))
        elif op == "truncate":
            del frame[at:]
    return bytes(frame)


@FUZZ
@given(protocol=st.sampled_from(NAMES), data=st.binary(max_size=300))
def test_random_bytes(protocol: str, data: bytes) -> None:
    decodes_or_rejects(protocol, [data], Options(key=KEY))


@FUZZ
@given(data=st.data(), protocol=st.sampled_from(["jbd", "daly", "ant"]))
def test_mutated_valid_frames(data, protocol: str) -> None:
    decodes_or_rejects(protocol, [data.draw(mutated(VALID[protocol]))])


@FUZZ
@given(data=st.data(), protocol=st.sampled_from(["jbd", "daly", "ant"]))
def test_mutated_frames_with_repaired_checksums(data, protocol: str) -> None:
    """Intact framing around corrupt content reaches the field decoders themselves."""
    frame = data.draw(mutated(VALID[protocol]))
    minimum = {"jbd": 7, "daly": 13, "ant": 10}[protocol]
    if len(frame) < minimum or (protocol == "ant" and frame[:2] not in (b"\x7e\xa1", b"\xaa\x55")):
        return
    if protocol == "ant" and frame[:2] == b"\xaa\x55" and len(frame) != 140:
        return
    if protocol == "jbd" and len(frame) - 7 > 255:
        return
    decodes_or_rejects(protocol, [reseal(protocol, frame)])


@FUZZ
@given(
    command=st.sampled_from([0x03, 0x04, 0x05, 0xAA, 0x00]),
    status=st.sampled_from([0, 0, 0, 0x80]),
    payload=st.binary(max_size=80),
)
def test_jbd_sealed_random_payloads(command: int, status: int, payload: bytes) -> None:
    decodes_or_rejects("jbd", [jbd_frame(command, payload, status)])


@FUZZ
@given(
    frames=st.lists(
        st.tuples(st.integers(0x8F, 0x99), st.binary(min_size=8, max_size=8)), max_size=20
    ),
    sign=st.sampled_from([1, -1]),
)
def test_daly_sealed_random_frame_sets(frames: list[tuple[int, bytes]], sign: int) -> None:
    built = [daly_frame(command, data) for command, data in frames]
    decodes_or_rejects("daly", built, Options(daly_current_sign=sign))


@FUZZ
@given(
    cells=st.integers(0, 34),
    sensors=st.integers(0, 8),
    slack=st.sampled_from([0, 0, 0, -1, 2]),
    data=st.data(),
)
def test_ant_sealed_random_status(cells: int, sensors: int, slack: int, data) -> None:
    """Status frames whose length mostly fits their cell and sensor counts."""
    size = 106 + 2 * cells + 2 * sensors + slack
    if size > 255:
        return
    head = bytes((data.draw(st.integers(0, 255)), data.draw(st.integers(0, 7)), sensors, cells))
    body = data.draw(st.binary(min_size=size - 4, max_size=size - 4))
    decodes_or_rejects("ant", [ant_frame(0x11, head + body)])


@FUZZ
@given(body=st.binary(min_size=136, max_size=136), cells=st.integers(0, 40))
def test_ant_sealed_random_legacy(body: bytes, cells: int) -> None:
    frame = bytearray(b"\xaa\x55\xaa\xff" + body)
    frame[123] = cells
    decodes_or_rejects("ant", [ant_legacy_seal(bytes(frame))])


@FUZZ
@given(
    record=st.sampled_from([0x01, 0x02, 0x0D, 0x03]),
    nonce=st.binary(min_size=2, max_size=2),
    payload=st.binary(max_size=40),
    key=st.binary(min_size=16, max_size=16),
)
def test_victron_random_payloads(record: int, nonce: bytes, payload: bytes, key: bytes) -> None:
    advertisement = b"\x10\x02\x89\xa3" + bytes((record,)) + nonce + key[:1] + payload
    decodes_or_rejects("victron", [advertisement], Options(key=key))
    with contextlib.suppress(DecodeError):
        victron.decode_record(record, payload)


@FUZZ
@given(protocol=st.sampled_from(["jbd", "daly", "ant"]), chunks=st.lists(st.binary(max_size=64)))
def test_reassembler_never_raises_on_noise(protocol: str, chunks: list[bytes]) -> None:
    reassembler = Reassembler(protocol)
    for chunk in chunks:
        for frame in reassembler.feed(chunk):
            decodes_or_rejects(protocol, [frame])
    with contextlib.suppress(DecodeError):
        split_frames(protocol, b"".join(chunks))


@FUZZ
@given(data=st.data(), protocol=st.sampled_from(["jbd", "daly", "ant"]))
def test_reassembler_recovers_frames_from_chunks_and_noise(data, protocol: str) -> None:
    frames = data.draw(st.lists(st.sampled_from(VALID[protocol]), min_size=1, max_size=5))
    noise = st.binary(max_size=12).map(
        lambda b: bytes(x for x in b if x not in START_BYTES[protocol])
    )
    stream = b"".join(data.draw(noise) + frame for frame in frames) + data.draw(noise)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=30)))
    reassembler = Reassembler(protocol)
    found = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        found += reassembler.feed(stream[start:end])
    assert found == frames
