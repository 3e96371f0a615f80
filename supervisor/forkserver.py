"""Fork workers from pre-imported templates (the child side: workers/forkserver.py).

At daemon start the supervisor starts a template per configured worker type,
``edgeos: forkserver <type>``, while the broker comes up (a type added later gets
one at its first, exec'd, start); once a template said it is ready, every start and
restart of that type is a fork of it: no interpreter
start-up, no imports, the imported pages shared copy-on-write. The supervisor makes
itself a child subreaper, so a forked worker is its child like an exec'd one: its
exit is seen through a pidfd and waited for here, with the real exit code, and
PDEATHSIG points at the supervisor. Orphans that land on us that way (a worker's own
children) are reaped on SIGCHLD. A type opts out with ``"forkserver": false`` in its
manifest (a library that is not fork-safe); ``EDGEOS_FORKSERVER=off`` turns it off.
Anything wrong with a template (it died, it answered nonsense) means exec again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from edgeos.ipc.zygote import SERVICES, SPARE, TEMPLATE
from edgeos.supervisor import zygote
from edgeos.supervisor.seam import Spawned
from edgeos.workers import registry

log = logging.getLogger(__name__)

PR_SET_CHILD_SUBREAPER = 36
ANSWER_TIMEOUT_S = 2.0
# How long the first worker of a type waits for its template to finish its imports
# (a template forked from the zygote imports only the type's module).
READY_WAIT_S = 3.0
# Strays are looked for this long after a SIGCHLD, once for a burst of them: the scan
# reads every process's stat file, and run at once it would sit between a killed
# worker's replacement saying READY and the supervisor reading it (issue 16).
STRAY_SCAN_DELAY_S = 1.0


class ForkedProc:
    """A template forked from the zygote: our child (we are a subreaper), handled like
    the ``Popen`` of an exec'd one."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)

    @classmethod
    def adopt(cls, pid: int, pidfd: int) -> ForkedProc:
        """One whose pidfd is already open (a spare)."""
        proc = cls.__new__(cls)
        proc.pid, proc.pidfd = pid, pidfd
        return proc

    def wait(self, timeout: float) -> int:
        if self.pidfd < 0:
            return 0
        if not select.select([self.pidfd], [], [], timeout)[0]:
            raise subprocess.TimeoutExpired(f"forkserver {self.pid}", timeout)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        os.close(self.pidfd)
        self.pidfd = -1
        return 0

    def kill(self) -> None:
        if self.pidfd >= 0:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)


@dataclass
class Spare:
    """A worker forked ahead of need, our child, waiting for its spec on ``sock``."""

    pid: int
    pidfd: int
    sock: socket.socket


@dataclass
class Template:
    proc: subprocess.Popen[bytes] | ForkedProc
    sock: socket.socket
    ready: bool = False
    awaited: bool = False  # a worker start waited for its readiness (_await_ready)
    spare: Spare | None = None


class ForkServers:
    def __init__(self, loop: asyncio.AbstractEventLoop, known: Callable[[], set[int]]) -> None:
        self.loop = loop
        self.known = known  # pids the exec path waits for itself
        self.templates: dict[str, Template] = {}
        self.broken: set[str] = set()  # types whose template failed: exec from now on
        self.forked: dict[int, int] = {}  # worker pid -> its pidfd
        self._armed = False
        self._stray_scan: asyncio.TimerHandle | None = None
        self.zygote = zygote.current()
        if self.zygote is not None:  # its exit is an event: reap it, exec from then on
            loop.add_reader(self.zygote.pidfd, self._zygote_exited)

    def _zygote(self) -> zygote.Zygote | None:
        """The zygote while it works; one that failed is ended here."""
        if self.zygote is not None and self.zygote.broken:
            self._end_zygote()
        return self.zygote

    def _zygote_exited(self) -> None:
        log.warning("zygote exited; services are exec'd from now on")
        self._end_zygote()

    def _end_zygote(self) -> None:
        found, self.zygote = self.zygote, None
        if found is None:
            return
        self.loop.remove_reader(found.pidfd)
        found.close()

    def _arm(self) -> None:
        """Become a subreaper (forked workers are then our children) and reap strays."""
        if self._armed:
            return
        self._armed = True
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
        self.loop.add_signal_handler(signal.SIGCHLD, self._strays_due)

    def prepare(self, kind: str, env: dict[str, str]) -> None:
        """Start the template of ``kind`` now (at daemon start, beside the broker), so
        even the first workers are forked; once it runs, have it fork a spare (the
        arbiter asks again when a restarted worker of ``kind`` is ready)."""
        template = self.templates.get(kind)
        if template is not None:
            if template.ready and template.spare is None:
                self._fork_spare(kind, template)
        elif kind not in self.broken and registry.manifest(kind).get("forkserver") is not False:
            self._start(kind, env)

    def _fork_spare(self, kind: str, template: Template) -> None:
        """Ask the template for a spare: a worker forked now that waits for its spec
        (workers/forkserver.py ``spare``), so the next start of ``kind`` is one send."""
        try:
            template.sock.sendall(SPARE)
            answer, fds, _, _ = socket.recv_fds(template.sock, 32, 1)
            pid = int(answer or b"-1")
            if pid <= 0 or len(fds) != 1:
                raise OSError(f"forkserver {kind} answered {answer!r} to a spare")
            pidfd = os.pidfd_open(pid)
        except (OSError, ValueError) as exc:
            log.warning("forkserver %s failed (%s); exec from now on", kind, exc)
            self._drop(kind)
            self.broken.add(kind)
            return
        spare = template.spare = Spare(pid, pidfd, socket.socket(fileno=fds[0]))
        self.loop.add_reader(pidfd, lambda: self._spare_exited(kind, spare))

    def _spare_exited(self, kind: str, spare: Spare) -> None:
        """A spare ended unused (killed, or EOF): reap it."""
        done, _ = os.waitpid(spare.pid, os.WNOHANG)
        if done == 0:
            return
        self._forget_spare(spare)
        template = self.templates.get(kind)
        if template is not None and template.spare is spare:
            template.spare = None

    def _forget_spare(self, spare: Spare, pidfd_too: bool = True) -> None:
        with contextlib.suppress(ValueError, OSError):  # (the loop may be closed)
            self.loop.remove_reader(spare.pidfd)
        if pidfd_too:
            os.close(spare.pidfd)
        spare.sock.close()

    def _use_spare(self, template: Template, request: bytes, out_w: int,
                   err_w: int) -> tuple[int, int] | None:
        """Hand ``request`` to the template's spare: its pid and pidfd, or None (it
        is gone: fork as usual)."""
        spare, template.spare = template.spare, None
        if spare is None:
            return None
        try:
            socket.send_fds(spare.sock, [request], [out_w, err_w])
        except OSError:  # it died meanwhile: its pidfd reader reaps it
            template.spare = spare
            return None
        self._forget_spare(spare, pidfd_too=False)
        return spare.pid, spare.pidfd

    def spawn(self, spec: bytes, env: dict[str, str],
              on_exit: Callable[[int, int], None]) -> Spawned | None:
        """Fork a worker from its type's template; None: exec it (and maybe start one)."""
        doc = json.loads(spec)
        kind = doc.get("type", "")
        if kind in self.broken or registry.manifest(kind).get("forkserver") is False:
            return None
        template = self.templates.get(kind)
        if template is None:
            self._start(kind, env)
            return None
        if not template.ready and not self._await_ready(kind, template):
            return None
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        request = json.dumps({"spec": doc, "env": env}).encode()
        try:
            handed = self._use_spare(template, request, out_w, err_w)
            if handed is not None:
                return self._watch(*handed, out_r, err_r, on_exit)
            socket.send_fds(template.sock, [request], [out_w, err_w])
            answer = template.sock.recv(32)
            pid = int(answer or b"-1")
            if pid <= 0:
                raise OSError(f"forkserver {kind} answered {answer!r}")
            pidfd = os.pidfd_open(pid)
        except (OSError, ValueError) as exc:
            log.warning("forkserver %s failed (%s); exec from now on", kind, exc)
            for fd in (out_r, err_r):
                os.close(fd)
            self._drop(kind)
            self.broken.add(kind)
            return None
        finally:
            os.close(out_w)
            os.close(err_w)
        return self._watch(pid, pidfd, out_r, err_r, on_exit)

    def spawn_service(self, argv: list[str], stdin_data: bytes, env: dict[str, str],
                      on_exit: Callable[[int, int], None]) -> Spawned | None:
        """Fork ``python -m <service> ...`` from the zygote, its spec on stdin as if it
        had been exec'd; None: exec it."""
        found = self._zygote()
        if found is None or len(argv) < 3 or argv[1] != "-m" or argv[2] not in SERVICES:
            return None
        try:
            self._arm()
        except OSError:
            return None
        spec = os.memfd_create("spec", os.MFD_CLOEXEC)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            os.write(spec, stdin_data)  # a memfd: no pipe buffer to fill, any size
            os.lseek(spec, 0, os.SEEK_SET)
            pid = found.fork({"module": argv[2], "args": argv[3:], "env": env},
                             [spec, out_w, err_w])
            pidfd = None if pid is None else os.pidfd_open(pid)
        finally:
            for fd in (spec, out_w, err_w):
                os.close(fd)
        if pid is None or pidfd is None:
            os.close(out_r)
            os.close(err_r)
            self._zygote()  # ended if it failed
            return None
        return self._watch(pid, pidfd, out_r, err_r, on_exit)

    def _watch(self, pid: int, pidfd: int, out_r: int, err_r: int,
               on_exit: Callable[[int, int], None]) -> Spawned:
        """Wait for a forked child (ours through the subreaper) like an exec'd one."""
        self.forked[pid] = pidfd

        def exited() -> None:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                return
            self.loop.remove_reader(pidfd)
            os.close(pidfd)
            self.forked.pop(pid, None)
            on_exit(pid, os.waitstatus_to_exitcode(status))

        self.loop.add_reader(pidfd, exited)
        os.set_blocking(out_r, False)
        os.set_blocking(err_r, False)
        return Spawned(pid, out_r, err_r)

    def _start(self, kind: str, env: dict[str, str]) -> None:
        try:
            self._arm()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        except OSError as exc:
            log.warning("no forkserver (%s); workers are exec'd", exc)
            self.broken.add(kind)
            return
        with theirs:
            proc = self._fork_template(kind, env, theirs) or subprocess.Popen(
                [sys.executable, "-m", "edgeos.workers.forkserver", kind, str(theirs.fileno()),
                 *self._known(kind)],
                env=env, stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),),
                start_new_session=True)
        ours.settimeout(ANSWER_TIMEOUT_S)
        template = self.templates[kind] = Template(proc, ours)
        self.loop.add_reader(ours.fileno(), self._hello, kind, template)

    def _hello(self, kind: str, template: Template) -> None:
        """The template's first word: ``R`` (ready) or anything else (exec from now on)."""
        self.loop.remove_reader(template.sock.fileno())
        try:
            template.ready = template.sock.recv(1) == b"R"
        except OSError:
            template.ready = False
        if not template.ready:
            log.warning("forkserver %s did not start; workers are exec'd", kind)
            self._drop(kind)
            self.broken.add(kind)

    def _await_ready(self, kind: str, template: Template) -> bool:
        """A worker asked for while its template still imports (the first ones of a
        start on a loaded or slow host) waits for it, once per template and at most
        READY_WAIT_S: exec'd, it would share none of the template's pages for as long
        as it runs (a satellite's worker 12 MB PSS instead of 8, issue 16)."""
        if template.awaited:
            return False
        template.awaited = True
        if select.select([template.sock], [], [], READY_WAIT_S)[0]:
            self._hello(kind, template)
        return template.ready

    def _fork_template(self, kind: str, env: dict[str, str],
                       theirs: socket.socket) -> ForkedProc | None:
        """The template of ``kind`` forked from the zygote (sharing its pages), if there
        is one and the type runs without TLS (the zygote's asyncio has none, as the
        supervisor's: supervisor/lean_asyncio.py); None: exec it."""
        found = self._zygote()
        if found is None or registry.manifest(kind).get("needs_tls") is not False:
            return None
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            pid = found.fork({"module": TEMPLATE, "args": [kind, "3", *self._known(kind)],
                              "env": env},
                             [null, 1, 2, theirs.fileno()])
        finally:
            os.close(null)
        return None if pid is None else ForkedProc(pid)

    @staticmethod
    def _known(kind: str) -> list[str]:
        """What the template would look up itself (an entry point scan): the type's
        ``module:Class`` and ``tls`` or ``no-tls``; nothing for a plugin's type (the
        template looks that up itself, as it always did)."""
        if registry.plugin_path(kind) is not None:
            return []
        tls = registry.manifest(kind).get("needs_tls") is not False
        return [registry.entry(kind), "tls" if tls else "no-tls"]

    def _drop(self, kind: str) -> None:
        template = self.templates.pop(kind, None)
        if template is None:
            return
        if template.spare is not None:  # EOF: it exits; wait for it as for the template
            spare, template.spare = template.spare, None
            self._forget_spare(spare, pidfd_too=False)
            proc = ForkedProc.adopt(spare.pid, spare.pidfd)
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(2)
        with contextlib.suppress(ValueError, OSError):
            self.loop.remove_reader(template.sock.fileno())
        template.sock.close()  # EOF: the template exits
        try:
            template.proc.wait(2)
        except subprocess.TimeoutExpired:
            template.proc.kill()
            template.proc.wait(2)

    def pids(self) -> set[int]:
        return set(self.forked) | {t.proc.pid for t in self.templates.values()} | {
            t.spare.pid for t in self.templates.values() if t.spare is not None} | (
            {self.zygote.pid} if self.zygote is not None else set())  # not strays

    def _strays_due(self) -> None:
        """SIGCHLD: scan for strays a moment later, one scan for a burst of signals."""
        if self._stray_scan is None:
            self._stray_scan = self.loop.call_later(STRAY_SCAN_DELAY_S, self._reap_strays)

    def _reap_strays(self) -> None:
        """Wait for orphans re-parented to us (not for processes someone else waits for).

        After a SIGCHLD only, so the scan of /proc for our zombies is rare. A stray that
        dies after the scan sends its own SIGCHLD, so none is left a zombie."""
        self._stray_scan = None
        mine = self.known() | self.pids()
        me = str(os.getpid()).encode()
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) in mine:
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if fields[0] == b"Z" and fields[1] == me:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(int(name), os.WNOHANG)

    def wait_all(self, timeout: float = 2.0) -> None:
        """At shutdown, after SIGKILL: wait for forked workers, end the templates."""
        if self._stray_scan is not None:
            self._stray_scan.cancel()
            self._stray_scan = None
        for pid, pidfd in list(self.forked.items()):
            with contextlib.suppress(OSError):
                self.loop.remove_reader(pidfd)
                os.close(pidfd)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self.forked.clear()
        for template in self.templates.values():  # idle, nothing to save: no grace
            with contextlib.suppress(ProcessLookupError):
                template.proc.kill()
        for kind in list(self.templates):
            self._drop(kind)
        self._end_zygote()
