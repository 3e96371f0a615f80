"""state.json, fail safe (issue 17 item 5): a state file we cannot trust never starts
the devices. Corrupt content -> panic with a one-line reason; a file that cannot be
read at all -> a one-line error at start, exit non-zero (CONTRACT section 2)."""

from __future__ import annotations

import json

import pytest

from tests.integration.daemon import sim


@pytest.mark.parametrize("content, why", [
    (b'{"mode": "panic", "since": 17', "invalid JSON"),  # truncated mid-write
    (b"", "invalid JSON"),
    (b"[1,2,3]", "expected an object with a 'mode', got list"),
    (b'{"mode":"explode"}', "mode must be 'normal' or 'panic', got \"explode\""),
    (b"\xff\xfe garbage", "not UTF-8"),
])
def test_corrupt_state_file_starts_in_panic_and_says_why(daemon_factory, content, why) -> None:
    d = daemon_factory([sim("w1")])
    d.data.mkdir(parents=True)
    (d.data / "state.json").write_bytes(content)
    d.start()
    status = d.status()
    assert status["mode"] == "panic"
    assert d.instance("w1")["status"] == "stopped" and d.instance("w1")["pid"] is None
    log = d.daemon_log()
    line = next(ln for ln in log.splitlines() if "staying in PANIC (fail safe)" in ln)
    assert why in line and "state.json" in line
    assert "Traceback" not in log
    # the refused file is kept for a post-mortem; a valid panic record replaces it
    assert [p.read_bytes() for p in d.data.glob("state.json.corrupt-*") if p.suffix != ".why"] \
        == [content]
    assert json.loads((d.data / "state.json").read_text())["mode"] == "panic"
    assert "state file refused" in (d.data / "audit.log").read_text()
    # recover is the only way out, and it works
    assert d.ctl("recover").returncode == 0
    d.wait_state("w1", "running")


def test_unreadable_state_file_is_a_one_line_error(daemon_factory) -> None:
    d = daemon_factory([sim("w1")])
    (d.data / "state.json").mkdir(parents=True)  # exists, cannot be read as a file
    d.start(wait=False)
    assert d.proc.wait(30) == 1
    out = d.daemon_log().strip().splitlines()
    errors = [ln for ln in out if ln.startswith("edgeos: ")]
    assert errors == [f"edgeos: {d.data / 'state.json'}: cannot read the state file: "
                      "Is a directory"], out
    assert "Traceback" not in d.daemon_log()
    assert not d.children_by_run_dir()


def test_valid_panic_state_is_kept_and_normal_starts_devices(daemon_factory) -> None:
    d = daemon_factory([sim("w1")])
    d.data.mkdir(parents=True)
    (d.data / "state.json").write_text('{"mode": "panic", "why": "test"}')
    d.start()
    assert d.status()["mode"] == "panic"
    assert "staying in PANIC" not in d.daemon_log()
    assert not list(d.data.glob("state.json.corrupt-*"))
    d.stop()
    (d.data / "state.json").write_text('{"mode": "normal"}')
    d.start()
    assert d.status()["mode"] == "normal" and d.instance("w1")["status"] == "running"


def test_state_file_is_written_atomically_0600(daemon_factory) -> None:
    d = daemon_factory([sim("w1")]).start()
    assert d.ctl("panic", "--reason", "test").returncode == 0
    assert (d.data / "state.json").stat().st_mode & 0o777 == 0o600
    assert json.loads((d.data / "state.json").read_text())["mode"] == "panic"
    assert not [p for p in d.data.iterdir() if p.name.startswith(".state.json.")]
