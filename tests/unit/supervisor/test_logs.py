"""The log book keeps a child's level once (issue 19 item 8: "INFO    INFO broker:")."""

from __future__ import annotations

from pathlib import Path

from edgeos.supervisor.logs import InstanceLog


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
