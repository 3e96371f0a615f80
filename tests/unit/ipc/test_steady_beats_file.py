"""The steady beats' file (ipc/steady_beats.py): what a child writes is what the
supervisor reads; a record caught half-written, one too big for a page and an id that
is no file name are refused, so the caller falls back to its worker channel."""

from __future__ import annotations

from pathlib import Path

from edgeos.ipc import steady_beats
from edgeos.ipc.steady_beats import HEAD, MAX_BODY, Beat, BeatWriter, read_beat


def test_the_last_beat_written_is_read_with_its_sequence(tmp_path: Path) -> None:
    steady_beats.make_dir(tmp_path)
    writer = BeatWriter(tmp_path, "plc_1")
    assert writer.write({"pps_out": 12.5, "in_total": 900}, 1000.25, pid=4242)
    assert writer.write({"pps_out": 1.0}, 1005.25, pid=4242)  # shorter than the first
    path = steady_beats.beat_path(tmp_path, "plc_1")
    assert path is not None and path.stat().st_mode & 0o777 == 0o600
    assert read_beat(path) == Beat(4242, 2, 1005.25, {"pps_out": 1.0})


def test_a_half_written_record_is_not_read(tmp_path: Path) -> None:
    steady_beats.make_dir(tmp_path)
    writer = BeatWriter(tmp_path, "a")
    assert writer.write({"pps_out": 3.0}, 10.0, pid=7)
    path = steady_beats.beat_path(tmp_path, "a")
    assert path is not None
    data = bytearray(path.read_bytes())
    data[HEAD.size + 2] ^= 0xFF  # a byte of the body not yet the new one
    path.write_bytes(bytes(data))
    assert read_beat(path) is None
    path.write_bytes(bytes(data[:HEAD.size + 1]))  # cut short
    assert read_beat(path) is None
    assert read_beat(tmp_path / "beats" / "nobody") is None


def test_what_cannot_be_written_says_so(tmp_path: Path) -> None:
    assert not BeatWriter(tmp_path, "a").write({}, 1.0)  # no beats dir (an older supervisor)
    steady_beats.make_dir(tmp_path)
    assert not BeatWriter(tmp_path, "a").write({"blob": "x" * MAX_BODY}, 1.0)
    for bad in ("", "../x", ".hidden", "a/b"):
        assert steady_beats.beat_path(tmp_path, bad) is None
        assert not BeatWriter(tmp_path, bad).write({}, 1.0)


def test_the_reader_keeps_each_file_open_across_the_childs_restarts(tmp_path: Path) -> None:
    steady_beats.make_dir(tmp_path)
    reader = steady_beats.BeatReader(tmp_path)
    assert reader.read("a") is None  # no steady beat yet
    first = BeatWriter(tmp_path, "a")
    assert first.write({"n": 1}, 1.0, pid=10)
    assert reader.read("a") == Beat(10, 1, 1.0, {"n": 1})
    again = BeatWriter(tmp_path, "a")  # the restarted child: the same file, overwritten
    assert again.write({"n": 2}, 2.0, pid=11)
    assert reader.read("a") == Beat(11, 1, 2.0, {"n": 2})
    assert reader.read("../x") is None
    reader.keep({"b"})  # "a" is gone
    assert reader.fds == {}
    reader.close()


def test_the_dir_is_owner_only_and_starts_empty(tmp_path: Path) -> None:
    steady_beats.make_dir(tmp_path)
    assert BeatWriter(tmp_path, "old").write({}, 1.0)
    path = steady_beats.make_dir(tmp_path)  # a new run in the same run dir
    assert path.stat().st_mode & 0o777 == 0o700 and list(path.iterdir()) == []
    steady_beats.remove_dir(tmp_path)
    assert not path.exists()
    steady_beats.remove_dir(tmp_path)  # (twice: nothing to do)
