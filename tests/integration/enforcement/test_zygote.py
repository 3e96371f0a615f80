"""Services forked from the node's zygote keep every guarantee of exec'd ones.

Read back from /proc on real daemons: the broker and the historian are forked (their
stdin is the memfd their spec came in, not a pipe), are the supervisor's children in
their own session with their titles, hold only stdin, the two log pipes and what they
open themselves (nothing of the zygote or the supervisor), their exit is seen with
the real code and a killed broker is forked again; a dead zygote means exec; they die
with the supervisor (PDEATHSIG); ``EDGEOS_FORKSERVER=off`` execs everything.
"""

from __future__ import annotations

import os
import signal

import psutil

from tests.integration.daemon import Daemon, pid_alive, sim
from tests.integration.enforcement.test_forkserver import fd_targets, ppid_and_state
from tests.integration.support import wait_until


def zygote_of(d: Daemon) -> psutil.Process | None:
    assert d.proc is not None
    return next((p for p in psutil.Process(d.proc.pid).children()
                 if p.cmdline()[:1] == ["edgeos: zygote"]), None)


def forked(pid: int) -> bool:
    """Forked from the zygote: the spec came in a memfd (an exec'd child reads a pipe)."""
    return fd_targets(pid)[0].startswith("/memfd:spec")


def restart(d: Daemon, iid: str) -> int:
    old = d.instance(iid)["pid"]
    os.kill(old, signal.SIGKILL)
    return d.wait_for(lambda: (i := d.instance(iid))["status"] == "running"
                      and i["pid"] != old and i["pid"], 30, f"{iid} restarted")


def assert_like_exec(d: Daemon, pid: int, title: str, zygote: psutil.Process) -> None:
    assert d.proc is not None
    assert ppid_and_state(pid)[0] == d.proc.pid  # the supervisor's child, not the zygote's
    assert os.getpgid(pid) == pid and os.getsid(pid) == pid
    assert psutil.Process(pid).cmdline()[0] == title
    fds = fd_targets(pid)
    assert fds[1].startswith("pipe:") and fds[2].startswith("pipe:")
    # no socket or file of the zygote or the supervisor (its locks, its databases)
    # leaked in: (pipes are shared by design, the supervisor reads the log pipes)
    theirs = {t for pid in (zygote.pid, d.proc.pid) for t in fd_targets(pid).values()
              if t.startswith(("socket:", "/"))}
    assert not theirs & set(fds.values()), theirs & set(fds.values())


def test_services_are_forked_and_keep_the_guarantees(daemon_factory) -> None:
    d = daemon_factory([sim("a", "bms", rate_hz=10)]).start()
    assert d.proc is not None
    zygote = zygote_of(d)
    assert zygote is not None and os.getsid(zygote.pid) == zygote.pid
    for iid, title in (("broker", "edgeos: broker"), ("historian", "edgeos: historian")):
        pid = d.instance(iid)["pid"]
        assert forked(pid), fd_targets(pid)
        assert_like_exec(d, pid, title, zygote)
    # a killed broker: its real exit code seen, forked again, the node works on
    d.wait_for(lambda: d.call("get", address="a.soc")["quality"] == "good", 20, "a value")
    before = d.call("get", address="a.soc")["ts"]
    pid = restart(d, "broker")
    assert forked(pid)
    assert_like_exec(d, pid, "edgeos: broker", zygote)
    assert "crashed (exit -9)" in " ".join(e["line"] for e in d.call("logs", id="broker", n=50))
    d.wait_for(lambda: d.call("get", address="a.soc")["ts"] > before, 20,
               "values through the new broker")
    # the zygote gone: reaped at once (its exit is an event), services are exec'd again
    zygote.kill()
    d.wait_for(lambda: not os.path.exists(f"/proc/{zygote.pid}"), 10, "zygote reaped")
    assert "zygote exited" in d.daemon_log()
    pid = restart(d, "broker")
    assert not forked(pid) and ppid_and_state(pid)[0] == d.proc.pid
    assert d.stop() == 0


def test_forked_services_die_with_the_supervisor(daemon_factory) -> None:
    d = daemon_factory([sim("a")]).start()
    assert d.proc is not None
    zygote = zygote_of(d)
    assert zygote is not None
    pids = [d.instance(i)["pid"] for i in ("broker", "historian", "a")]
    d.proc.kill()  # no clean-up by the supervisor: only the kernel's PDEATHSIG
    d.proc.wait(10)
    wait_until(lambda: not any(pid_alive(p) for p in [*pids, zygote.pid]), 10,
               "services, worker and zygote gone")


def test_no_zygote_when_the_forkserver_is_off(daemon_factory) -> None:
    d = daemon_factory([sim("a")], env={"EDGEOS_FORKSERVER": "off"}).start()
    assert zygote_of(d) is None
    assert not forked(d.instance("broker")["pid"])
    assert d.stop() == 0
