"""Issue 19 item 2: a lost admin password is reset on the host with ``edgectl passwd``,
also when no daemon answers: edgectl then writes the auth store in the data dir by the
store's rules (lock, atomic replace, 0600), and the admin UI, running or started later,
takes the new password."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from tests.integration.admin_ui.web import Web, WebDaemon
from tests.integration.daemon import BIN

HOST, UI_PORT = "127.0.22.1", 45126


def passwd(run: Path, data: Path | None, password: str) -> subprocess.CompletedProcess[str]:
    argv = [str(BIN / "edgectl"), "--run", str(run), "passwd"]
    if data is not None:
        argv += ["--data", str(data)]
    return subprocess.run(argv, capture_output=True, text=True, input=password + "\n",
                          timeout=60)


def test_passwd_without_a_daemon_sets_the_password_the_ui_takes(tmp_path: Path) -> None:
    w = WebDaemon(tmp_path / "d", [], host=HOST, port=UI_PORT).start()
    nowhere = tmp_path / "no-daemon-here"
    try:
        # a daemon runs, but edgectl does not reach it (another run dir): the file way
        done = passwd(nowhere, w.d.data, "lost and found 1")
        assert done.returncode == 0, done.stderr
        assert f"no daemon answers in {nowhere}" in done.stdout
        assert f"password of admin set in {w.d.data / 'auth.json'}" in done.stdout
        assert stat.S_IMODE((w.d.data / "auth.json").stat().st_mode) == 0o600
        assert Web(w.base).login("lost and found 1").status == 200  # the running UI
        assert Web(w.base).login(WebDaemon.PASSWORD).status == 401

        w.d.stop()  # no daemon at all (its control socket file may stay behind)
        gone = w.d.ctl("status")  # told at once, not after edgectl's 40 s wait
        assert gone.returncode == 3
        assert ("no daemon listens on" in gone.stderr
                or "no daemon control socket" in gone.stderr), gone.stderr
        done = passwd(w.d.run, w.d.data, "lost and found 2")
        assert done.returncode == 0, done.stderr
        w.d.start()
        w.d.wait_for(lambda: Web(w.base).get("/health").status == 200, 20, "admin UI")
        assert Web(w.base).login("lost and found 2").status == 200
    finally:
        w.close()


def test_passwd_without_a_daemon_refuses_a_missing_data_dir_and_a_short_password(
        tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    done = passwd(tmp_path / "run", missing, "long enough 1")
    assert done.returncode == 2
    assert f"no data dir {missing}" in done.stderr and "--data" in done.stderr
    assert not missing.exists()
    (tmp_path / "data").mkdir()
    done = passwd(tmp_path / "run", tmp_path / "data", "short")
    assert done.returncode == 1
    assert "at least 8 characters" in done.stderr
    assert not (tmp_path / "data" / "auth.json").exists()
