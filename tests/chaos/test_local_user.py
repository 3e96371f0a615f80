"""Another local user on the box (issue 17): it must read nothing of the data dir and
reach no socket. The daemon's dirs are put under a world-traversable parent, so only
our own modes stand in the way (under pytest's 0700 tmp dir the test could not fail)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.integration.daemon import Daemon, sim

NOBODY = 65534

PROBE = r"""
import json, os, socket, sys
data, run = sys.argv[1], sys.argv[2]
got = {}
def attempt(name, fn):
    try:
        fn()
        got[name] = "allowed"
    except OSError as exc:
        got[name] = type(exc).__name__
attempt("list data dir", lambda: os.listdir(data))
for f in ("last_values.db", "system_logs.db", "audit.log", "state.json", "logs/w1.log"):
    attempt("read " + f, lambda f=f: open(os.path.join(data, f), "rb").read(1))
attempt("list run dir", lambda: os.listdir(run))
for s in ("control.sock", "broker.sock", "events.sock"):
    def connect(s=s):
        c = socket.socket(socket.AF_UNIX)
        try:
            c.connect(os.path.join(run, s))
        finally:
            c.close()
    attempt("connect " + s, connect)
print(json.dumps(got))
"""


def as_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def test_another_local_user_reads_and_reaches_nothing() -> None:
    top = Path(tempfile.mkdtemp(prefix="edgeos-user-"))
    os.chmod(top, 0o755)
    d = Daemon(top / "d", [sim("w1")])
    try:
        os.chmod(top / "d", 0o755)
        d.start()
        assert d.ctl("panic", "--reason", "local user test").returncode == 0  # state, audit
        assert d.ctl("recover").returncode == 0
        d.wait_for(lambda: (d.data / "last_values.db").exists(), what="last values")
        assert os.stat(d.run.parent).st_mode & 0o005  # /tmp: traversable by others
        probe = subprocess.run(["/usr/bin/python3", "-c", PROBE, str(d.data), str(d.run)],
                               capture_output=True, text=True, timeout=30,
                               preexec_fn=as_nobody)
        assert probe.returncode == 0, probe.stderr
        got = json.loads(probe.stdout)
        assert len(got) == 10
        allowed = [name for name, result in got.items() if result == "allowed"]
        assert not allowed, got
    finally:
        d.cleanup()
        shutil.rmtree(top, ignore_errors=True)
