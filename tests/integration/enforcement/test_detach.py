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


BUFFERED = textwrap.dedent("""\
    import io, os, socket, sys
    from edgeos.ipc.detach import fork_detached

    sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)))
    sys.stderr.write("the template's own line\\n")  # block-buffered: still in memory
    r, w = os.pipe()

    def child(w):
        os.dup2(w, 2)  # the worker's log pipe, as workers/forkserver.py attach() does
        sys.stderr.write("the worker's line\\n")
        sys.stderr.flush()

    a, b = socket.socketpair()
    assert fork_detached(b, child, w) > 0
    os.close(w)
    with os.fdopen(r) as log:
        print(log.read(), end="")
""")


def test_a_child_does_not_write_what_its_template_had_buffered() -> None:
    """A runpy warning the zygote's template had buffered on stderr reached the log of
    every worker it forked (flushed there at its clean exit)."""
    done = subprocess.run([sys.executable, "-c", BUFFERED], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "the worker's line\n"
    assert done.stderr == "the template's own line\n"
