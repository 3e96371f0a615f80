"""A child forked through ipc/detach.py finds the subreaper as its parent at once.

The templates and the zygote fork a worker (or a service) through a middle process
that exits, so the worker becomes the supervisor's child (a child subreaper); the
worker then asks for PDEATHSIG and exits if its parent is not the supervisor. It
used to wait for EOF on a pipe the middle held, but the kernel closes a dying
process's files before it re-parents its children: a child woke with the middle
still its parent (under load, most of them), and a worker took the supervisor for
gone and exited 0 at start. Real processes: a subreaper in its own interpreter, a
"template" forked from it, and children that report the parent they see first thing.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""\
    import ctypes, os, socket, sys
    from edgeos.ipc.detach import fork_detached

    assert ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # subreaper
    me = os.getpid()
    r, w = os.pipe()

    def child(w):
        os.write(w, b"1" if os.getppid() == me else b"0")

    seen = []
    for _ in range(int(sys.argv[1])):
        a, b = socket.socketpair()
        template = os.fork()
        if template == 0:
            os._exit(0 if fork_detached(b, child, w) > 0 else 1)
        assert os.waitstatus_to_exitcode(os.waitpid(template, 0)[1]) == 0
        a.close()
        b.close()
        seen.append(os.read(r, 1))
        os.wait()  # the child, ours now
    print(seen.count(b"0"), len(seen))
""")


def test_detached_children_see_the_subreaper_as_parent_first_thing() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, "100"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    wrong, total = map(int, done.stdout.split())
    assert total == 100
    assert wrong == 0, f"{wrong} of {total} children still had the middle as their parent"
