"""``edgeos --help`` wraps at the width argparse's own formatter would pick, though the
daemon's formatter does not import shutil for it (issue 16: shutil with bz2 and lzma
stayed in the idle supervisor). Compared in a fresh interpreter on a pty (the terminal
query is real) and on a pipe, for several ``COLUMNS``."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

PROBE = """\
import argparse, os, sys
from edgeos.supervisor.cli import HelpFormatter
cases = [None, "60", "133", "0", "-4", "wide"]
ours = []
for columns in cases:
    os.environ.pop("COLUMNS", None)
    if columns is not None:
        os.environ["COLUMNS"] = columns
    ours.append(HelpFormatter("edgeos")._width)
print("shutil" in sys.modules)
for columns, width in zip(cases, ours):
    os.environ.pop("COLUMNS", None)
    if columns is not None:
        os.environ["COLUMNS"] = columns
    print(columns, width, argparse.HelpFormatter("edgeos")._width)
"""


@pytest.mark.parametrize("on_pty", [False, True])
def test_width_is_argparses(on_pty: bool) -> None:
    if on_pty:
        leader, follower = pty.openpty()
        os.set_blocking(leader, True)
        try:
            subprocess.run([sys.executable, "-c", PROBE], check=True, stdout=follower,
                           timeout=120)
            out = os.read(leader, 4096).decode()
        finally:
            os.close(leader)
            os.close(follower)
    else:
        out = subprocess.run([sys.executable, "-c", PROBE], check=True, timeout=120,
                             capture_output=True, text=True).stdout
    first, *rows = out.split("\n")
    assert first.strip() == "False"  # no shutil before argparse's own formatter ran
    rows = [row.split() for row in rows if row.strip()]
    assert len(rows) == 6
    for columns, ours, theirs in rows:
        assert ours == theirs, f"COLUMNS={columns}"
