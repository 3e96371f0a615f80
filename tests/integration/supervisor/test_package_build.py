"""Issue 19 item 12: installing (``make run``'s first step) prints no pages of
setuptools warnings, and the wheel carries every file the admin UI serves. Builds the
real wheel with pip, the way the Makefile installs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_the_wheel_builds_without_package_warnings_and_holds_the_static_files(
        tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps",
                           "-w", str(tmp_path), str(REPO)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert "absent from the `packages` configuration" not in output
    assert "Installing" not in output or "as data is deprecated" not in output
    [wheel] = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    static = REPO / "admin_ui" / "static"
    want = {f"edgeos/admin_ui/static/{p.relative_to(static)}" for p in static.rglob("*")
            if p.is_file()}
    assert want and want <= names, sorted(want - names)
