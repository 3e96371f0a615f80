"""A template told its type's entry and TLS need does not scan the entry points.

The scan (importlib.metadata over every installed distribution, with email, zipfile
and csv) cost a template ~3.7 MB of pages, shared with each of its workers (issue 16).
The supervisor knows both answers; the template takes them as arguments. Run for real
(``python -X importtime -m edgeos.workers.forkserver TYPE FD ...``): what
it imported before saying ``R`` is on its stderr.
"""

from __future__ import annotations

import socket
import subprocess
import sys

ENTRY = "edgeos.workers.simulator.worker:SimulatorWorker"


def imported_by_template(*extra: str) -> str:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, theirs:
        proc = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "edgeos.workers.forkserver",
             "simulator", str(theirs.fileno()), *extra], stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, pass_fds=(theirs.fileno(),))
        theirs.close()
        ours.settimeout(60)
        assert ours.recv(1) == b"R"
        ours.shutdown(socket.SHUT_RDWR)  # EOF: the template ends
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    return err


def modules(importtime: str) -> set[str]:
    """What ``import`` statements loaded (importlib.import_module is not listed)."""
    return {line.rsplit("|", 1)[1].strip() for line in importtime.splitlines()
            if line.startswith("import time:") and line.count("|") == 2}


def test_told_template_skips_the_entry_point_scan() -> None:
    told = modules(imported_by_template(ENTRY, "no-tls"))
    assert "edgeos.workers.simulator.faults" in told  # the type's module's own imports
    assert "importlib.metadata" not in told and "email" not in told
    assert "_ssl" not in told  # no-tls: as the worker runs (a refused import is listed
    # too, so ``ssl`` itself may be; its C part is only loaded by a real import)
    # the old call (and a plugin's type) still looks them up: the scan is there
    assert "importlib.metadata" in modules(imported_by_template())
