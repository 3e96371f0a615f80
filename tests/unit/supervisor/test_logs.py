"""The log book keeps a child's level once (issue 19 item 8: "INFO    INFO broker:")."""

from __future__ import annotations

from pathlib import Path

from edgeos.supervisor.logs import InstanceLog, RotatingFile


def test_the_level_is_taken_out_of_the_line_and_kept_for_continuations(tmp_path: Path) -> None:
    log = InstanceLog("broker", tmp_path)
    entries = log.feed("stderr", b"INFO broker: listening\nERROR broker: boom\n"
                                 b"Traceback (most recent call last):\n  File x\nplain print\n")
    assert [(e["level"], e["line"]) for e in entries] == [
        ("INFO", "broker: listening"), ("ERROR", "broker: boom"),
        ("ERROR", "Traceback (most recent call last):"), ("ERROR", "  File x"),
        ("INFO", "plain print")]
    log.file.close()
    lines = (tmp_path / "broker.log").read_text().splitlines()
    assert [line.split(" ", 2)[2] for line in lines][:2] == ["INFO broker: listening",
                                                           "ERROR broker: boom"]
    assert log.tail(level="ERROR")[0]["line"] == "broker: boom"


def test_the_file_appends_each_line_at_once_and_rotates(tmp_path: Path) -> None:
    """Unbuffered (issue 16): a line is in the file as soon as it is written, UTF-8,
    appended to what an earlier run left, and the file rotates past ``max_bytes``."""
    path = tmp_path / "w.log"
    path.write_text("from before\n")
    log = RotatingFile(path, max_bytes=40, backups=2)
    log.write("déjà vu ✓\n")
    assert path.read_text("utf-8") == "from before\ndéjà vu ✓\n"
    log.write("x" * 30 + "\n")  # past 40 bytes: rotated
    assert (tmp_path / "w.log.1").read_text("utf-8").endswith("x" * 30 + "\n")
    assert path.read_bytes() == b""
    log.write("after\n")
    log.close()
    assert path.read_text() == "after\n"
