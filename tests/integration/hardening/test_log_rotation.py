"""Log rotation holds for every process's log (issue 17 item 14).

Cause found: jsonschema quotes the offending value whole, so a refused routing.json
with one huge ``map()`` made the broker print a single line of tens of MB; rotation is
checked between lines, so one line blew through the 1 MB limit (and sat in the
supervisor's memory while it waited for its newline). Now messages are clipped where
they are made and the supervisor keeps at most MAX_LINE bytes of any line."""

from __future__ import annotations

import json
import os
import selectors
import sqlite3
import subprocess
import sys
from pathlib import Path

from edgeos.supervisor.logs import MAX_LINE, LogBook

from tests.integration.daemon import sim


def test_broker_log_stays_small_with_a_huge_refused_routing_file(daemon_factory) -> None:
    huge_map = {str(n): f"v{n}" for n in range(150_000)}  # ~3 MB, one route
    d = daemon_factory([sim("plc_1")])
    (d.config / "routing.json").write_text(json.dumps({"version": "1.0", "routes": [
        {"id": "big", "from": "plc_1.a", "to": "plc_1.b",
         "transform": {"map": huge_map, "bogus": True}}]}))
    d.start()
    assert d.instance("broker")["status"] == "running"
    d.wait_for(lambda: any("routing.json refused" in e["line"]
                           for e in d.call("logs", id="broker", n=100)), what="refusal")
    d.stop()
    sizes = {p.name: p.stat().st_size for p in (d.data / "logs").glob("broker.log*")}
    assert max(sizes.values()) < 100_000, sizes  # rotated files too: no one huge line
    # the error record is bounded too
    db = sqlite3.connect(d.data / "system_logs.db")
    try:
        longest = db.execute("SELECT MAX(LENGTH(message)), MAX(LENGTH(traceback)) "
                             "FROM errors").fetchone()
    finally:
        db.close()
    assert longest[0] <= 4096 and (longest[1] or 0) <= 65536, longest


def feed_from_child(tmp_path: Path, code: str) -> LogBook:
    """Run a real child that writes ``code``'s output to a pipe the LogBook reads."""
    book = LogBook(tmp_path / "logs", lambda entry: None)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert child.stdout is not None
    fd = child.stdout.fileno()
    os.set_blocking(fd, False)
    sel = selectors.DefaultSelector()
    done = []
    book.attach("noisy", fd, "stdout", lambda f, cb: sel.register(f, selectors.EVENT_READ, cb),
                lambda f: (sel.unregister(f), done.append(f)))
    while not done:
        for key, _ in sel.select(10):
            key.data()
    child.wait(10)
    child.stdout = None  # its fd was closed by the log book
    return book


def test_one_huge_line_is_cut_and_rotation_holds(tmp_path: Path) -> None:
    book = feed_from_child(tmp_path, "import sys; sys.stdout.write('x' * 30_000_000 + '\\nafter\\n"
                           "' + 'y' * 5_000_000)")
    log = book.get("noisy")
    lines = [e["line"] for e in log.tail(10)]
    assert lines[0] == "x" * MAX_LINE + f" [... {30_000_000 - MAX_LINE} more bytes cut]"
    assert lines[1] == "after"
    assert lines[2].startswith("y" * 100) and lines[2].endswith(
        f"[... {5_000_000 - MAX_LINE} more bytes cut]")
    book.close()
    sizes = [p.stat().st_size for p in (tmp_path / "logs").iterdir()]
    assert max(sizes) < 1_000_000 + 2 * MAX_LINE, sizes


def test_many_lines_rotate_at_the_limit(tmp_path: Path) -> None:
    book = feed_from_child(tmp_path, "for n in range(120_000): print('line', n, 'x' * 40)")
    book.close()
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == ["noisy.log", "noisy.log.1", "noisy.log.2", "noisy.log.3"], files
    assert all(p.stat().st_size <= 1_000_000 + 200 for p in (tmp_path / "logs").iterdir())
