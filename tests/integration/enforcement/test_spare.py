"""A restart taken by a spare (a worker forked ahead, see docs/restart-latency.md)
keeps every guarantee of a forked worker, and spares never outlive the supervisor.

After a worker of a type restarted and said READY, its template forks a spare that
waits for a spec; the next start of that type is handed to it. Read back from /proc:
the replacement is the spare's process, the supervisor's child in its own process
group and session, with its title and nice level, stdin /dev/null and the log pipes
only, its stderr captured and its exit code the real one; a new spare follows; the
daemon's stop ends the spare, and so does the supervisor's death (PDEATHSIG).
"""

from __future__ import annotations

import os

import psutil

from tests.integration.daemon import Daemon, pid_alive, sim
from tests.integration.enforcement.test_forkserver import fd_targets, ppid_and_state, restart
from tests.integration.support import wait_until

SPARE = "edgeos: forkserver simulator (spare)"


def spare_of(d: Daemon, not_pid: int | None = None) -> int:
    assert d.proc is not None
    return d.wait_for(lambda: next((p.pid for p in psutil.Process(d.proc.pid).children()
                                    if p.cmdline()[:1] == [SPARE] and p.pid != not_pid),
                                   None), 30, "a spare")


def test_a_spare_takes_the_next_restart_with_every_guarantee(daemon_factory) -> None:
    d = daemon_factory([sim("first"), sim("quiet", limits={"nice": 7}),
                        sim("bomb", fault={"kind": "fork_bomb"}, limits={"max_pids": 24})]
                       ).start()
    assert d.proc is not None
    restart(d, "first")  # a type that restarts gets a spare once the replacement is READY
    spare = spare_of(d)
    assert ppid_and_state(spare)[0] == d.proc.pid
    held = fd_targets(spare)  # stdio and its socket to the supervisor, nothing else
    assert held[0] == "/dev/null" and len(held) == 4
    sock = next(t for fd, t in held.items() if fd > 2)
    assert sock.startswith("socket:")
    pid = restart(d, "quiet")
    assert pid == spare  # the spare became the worker
    proc = psutil.Process(pid)
    assert ppid_and_state(pid)[0] == d.proc.pid
    assert os.getpgid(pid) == pid and os.getsid(pid) == pid
    assert proc.cmdline()[0] == "edgeos: worker quiet [simulator]"
    assert proc.nice() == 7
    assert {os.getpriority(os.PRIO_PROCESS, t.id) for t in proc.threads()} == {7}  # zmq's too
    fds = fd_targets(pid)
    assert fds[0] == "/dev/null"
    assert fds[1].startswith("pipe:") and fds[2].startswith("pipe:")
    assert not [t for fd, t in fds.items() if fd > 2 and t.startswith("pipe:")]
    assert sock not in fds.values()  # the spare's socket is gone
    # the next spare; its stderr, once it is a worker, reaches the log book
    d.wait_for(lambda: any("fork refused" in e["line"]
                           for e in d.call("logs", id="bomb", n=100)), 30, "first refusal")
    second = spare_of(d, not_pid=spare)
    bomb = restart(d, "bomb")
    assert bomb == second
    d.wait_for(lambda: sum("fork refused" in e["line"]
                           for e in d.call("logs", id="bomb", n=200)) >= 2, 30, "second")
    # a worker that came from a spare exits with its real code
    restart(d, "quiet")
    assert "crashed (exit -9)" in " ".join(e["line"] for e in d.call("logs", id="quiet",
                                                                       n=100))
    last = spare_of(d)
    assert d.stop() == 0
    assert not pid_alive(last) and not pid_alive(pid) and not pid_alive(bomb)
    assert not d.children_by_run_dir()


def test_spares_die_with_the_supervisor(daemon_factory) -> None:
    d = daemon_factory([sim("a"), sim("b")]).start()
    assert d.proc is not None
    restart(d, "a")
    spare = spare_of(d)
    d.proc.kill()  # no clean-up by the supervisor: only the kernel's PDEATHSIG
    d.proc.wait(10)
    wait_until(lambda: not pid_alive(spare), 10, "spare gone")
