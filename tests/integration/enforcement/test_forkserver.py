"""Workers forked from the per-type template keep every guarantee of an exec'd one.

Read back from /proc: the forked worker is the supervisor's child in its own process
group and session, has its title and nice level, only the fds a worker opens itself
(stdin /dev/null, stdout/stderr the log pipes), its log lines reach the supervisor,
its exit code is the real one, and it dies with the supervisor (PDEATHSIG).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil

from tests.integration.daemon import Daemon, pid_alive, sim
from tests.integration.support import wait_until


def ppid_and_state(pid: int) -> tuple[int, str]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0]


def template_of(d: Daemon, kind: str = "simulator") -> psutil.Process:
    assert d.proc is not None
    return d.wait_for(lambda: next((p for p in psutil.Process(d.proc.pid).children()
                                    if p.cmdline()[:1] == [f"edgeos: forkserver {kind}"]),
                                   None), 20, "forkserver template")


def restart(d: Daemon, iid: str) -> int:
    old = d.instance(iid)["pid"]
    os.kill(old, signal.SIGKILL)
    return d.wait_for(lambda: (i := d.instance(iid))["status"] == "running"
                      and i["pid"] != old and i["pid"], 30, f"{iid} restarted")


def fd_targets(pid: int) -> dict[int, str]:
    base = Path(f"/proc/{pid}/fd")
    out = {}
    for fd in base.iterdir():
        try:
            out[int(fd.name)] = os.readlink(fd)
        except OSError:
            continue
    return out


def test_forked_worker_keeps_group_title_fds_logs_and_exit_code(daemon_factory) -> None:
    d = daemon_factory([sim("bomb", fault={"kind": "fork_bomb"}, limits={"max_pids": 24}),
                        sim("quiet", limits={"nice": 7})]).start()
    assert d.proc is not None
    template = template_of(d)
    assert ppid_and_state(template.pid)[0] == d.proc.pid
    pid = restart(d, "quiet")
    proc = psutil.Process(pid)
    assert ppid_and_state(pid)[0] == d.proc.pid  # a child of the supervisor itself
    assert os.getpgid(pid) == pid and os.getsid(pid) == pid
    assert proc.cmdline()[0] == "edgeos: worker quiet [simulator]"
    assert proc.nice() == 7
    assert "crashed (exit -9)" in " ".join(
        e["line"] for e in d.call("logs", id="quiet", n=50))
    fds = fd_targets(pid)
    assert fds[0] == "/dev/null"
    assert fds[1].startswith("pipe:") and fds[2].startswith("pipe:")
    template_sockets = {t for t in fd_targets(template.pid).values() if t.startswith("socket:")}
    assert not template_sockets & set(fds.values())  # nothing of the template leaked
    assert not [t for fd, t in fds.items() if fd > 2 and t.startswith("pipe:")]
    # its log holds only what it wrote itself: nothing the template or the zygote had
    # buffered (a RuntimeWarning of runpy reached the log of every forked worker that
    # stopped cleanly, flushed by its exit)
    assert d.ctl("restart", "quiet").returncode == 0
    d.wait_for(lambda: d.instance("quiet")["pid"] not in (None, pid), 20, "quiet restarted")
    lines = [e["line"] for e in d.call("logs", id="quiet", n=200)]
    assert not [line for line in lines if "Warning" in line or "runpy" in line], lines
    # stderr of a forked worker is captured: the bomb logs its refused forks again
    first = d.instance("bomb")["pid"]
    d.wait_for(lambda: any("fork refused" in e["line"]
                           for e in d.call("logs", id="bomb", n=100)), 20, "first refusal")
    forked = restart(d, "bomb")
    d.wait_for(lambda: sum("fork refused" in e["line"]
                           for e in d.call("logs", id="bomb", n=200)) >= 2, 20, "second")
    assert not pid_alive(first) and pid_alive(forked)
    # the first bomb's children were re-parented to the supervisor and reaped by it
    d.wait_for(lambda: not [p for p in psutil.Process(d.proc.pid).children()
                            if p.status() == psutil.STATUS_ZOMBIE], 10, "no zombies")
    assert d.stop() == 0
    assert not pid_alive(pid) and not pid_alive(forked) and not pid_alive(template.pid)


def test_forked_workers_die_with_the_supervisor(daemon_factory) -> None:
    d = daemon_factory([sim("a"), sim("b")]).start()
    assert d.proc is not None
    template = template_of(d)
    forked = restart(d, "a")
    d.proc.kill()  # no clean-up by the supervisor: only the kernel's PDEATHSIG
    d.proc.wait(10)
    wait_until(lambda: not pid_alive(forked) and not pid_alive(template.pid), 10,
               "forked worker and template gone")
    # the killed daemon could not remove its cgroups; the next one on this host does
    dead = d.proc.pid
    d.start()
    assert d.proc.pid != dead
    assert not list(Path("/sys/fs/cgroup").glob(f"*/edgeos-{dead}"))
    assert d.stop() == 0


def test_forkserver_can_be_turned_off(daemon_factory) -> None:
    d = daemon_factory([sim("a")], env={"EDGEOS_FORKSERVER": "off"}).start()
    assert d.proc is not None
    pid = restart(d, "a")
    assert ppid_and_state(pid)[0] == d.proc.pid
    assert not [p for p in psutil.Process(d.proc.pid).children()
                if "forkserver" in " ".join(p.cmdline())]
