"""The data dir is private and has one daemon (issue 17 items 10 and 11)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.integration.admin_ui.web import free_port
from tests.integration.daemon import Daemon, sim


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode)
            for p in [root, *root.rglob("*")]}


def test_everything_we_create_is_private(daemon_factory) -> None:
    d = daemon_factory([sim("w1")], headless=False,
                       extra_args=["--web-port", str(free_port())]).start()
    d.wait_for(lambda: (d.data / "last_values.db").exists(), what="last values file")
    d.wait_for(lambda: any(d.data.glob("last_values.db-wal")), what="wal file")
    assert d.ctl("panic", "--reason", "perm test").returncode == 0  # audit.log, state.json
    assert d.ctl("recover").returncode == 0
    d.stop()
    found = modes(d.data)
    names = set(found)
    assert {".", "last_values.db", "system_logs.db", "audit.log", "state.json",
            "logs/broker.log", "logs/w1.log"} <= names, names
    too_open = {n: oct(m) for n, m in found.items() if m & 0o077}
    assert not too_open, too_open
    assert found["."] == 0o700 and found["logs"] == 0o700


def test_too_open_data_dir_is_tightened_with_a_warning(daemon_factory) -> None:
    d = daemon_factory([sim("w1")])
    (d.data / "logs").mkdir(parents=True)
    os.chmod(d.data, 0o755)
    (d.data / "audit.log").write_text("")
    os.chmod(d.data / "audit.log", 0o644)
    os.chmod(d.data / "logs", 0o755)
    d.start()
    assert stat.S_IMODE(d.data.stat().st_mode) == 0o700
    assert stat.S_IMODE((d.data / "audit.log").stat().st_mode) == 0o600
    assert stat.S_IMODE((d.data / "logs").stat().st_mode) == 0o700
    log = d.daemon_log()
    assert f"{d.data} was 0755: readable by other users; now 0700" in log


def test_second_daemon_on_the_same_data_dir_exits_with_one_line(daemon_factory) -> None:
    first = daemon_factory([sim("w1")]).start()
    second = daemon_factory([sim("w1")])
    second.data = first.data
    second.args[second.args.index("--data") + 1] = str(first.data)
    second.start(wait=False)
    assert second.proc.wait(30) == 1
    lines = second.daemon_log().strip().splitlines()
    assert lines == [f"edgeos: the data dir {first.data} is in use by another daemon "
                     f"(pid {first.proc.pid})"], lines
    assert not second.children_by_run_dir()
    assert first.instance("w1")["status"] == "running"


def test_lock_is_released_when_the_daemon_stops(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "a", [sim("w1")])
    try:
        d.start()
        d.stop()
        again = Daemon(tmp_path / "b", [sim("w1")])
        again.args[again.args.index("--data") + 1] = str(d.data)
        try:
            again.start()
            assert again.instance("w1")["status"] == "running"
        finally:
            again.cleanup()
    finally:
        d.cleanup()
