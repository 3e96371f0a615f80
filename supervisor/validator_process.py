"""Config validation in a short-lived helper process, for the supervisor.

jsonschema with referencing, attrs, rpds and the metaschemas costs ~4 MB of RSS in the
process that imports it, importlib.metadata (the worker types' entry points) another
~1.3 MB, and CPython never gives that back: imported once at start to check the
config, they stayed in the idle supervisor for good (issue 16). The supervisor
therefore validates through :class:`ValidatorProcess`: ``python -m
edgeos.supervisor.validator_process`` is started on the first validation, answers every
request of a load or reload (same functions, same messages as in-process:
:func:`edgeos.common.schemas.errors`, :func:`~edgeos.common.schemas.validate_against`
and the entry point scan :func:`edgeos.workers.registry.scan`), and is ended
``IDLE_S`` after the last one. The route commands' check
(:mod:`edgeos.supervisor.route_check`) and a plugin's config schema check
(:func:`~edgeos.common.schemas.schema_problem`) run there too, and so does the start-up
check of the error store's file (:func:`edgeos.supervisor.errors.newest_error`: sqlite3)
and of the node's key pair (:func:`edgeos.ipc.satellite.keys.ensure_node_keys`:
``zmq.auth``). It reads requests from
its stdin, so it ends with the supervisor too (EOF), however that one ends.

Starting the helper (an interpreter and jsonschema's imports) takes 0.2 s on a quiet
machine and seconds on a loaded one, so the supervisor asks it from a worker thread
(:func:`asyncio.to_thread`: ``Arbiter.reload``, the config and route commands),
never from its event loop: a
lock keeps one request at a time on the pipes, the idle timer is armed on the loop of its
first request, and the helper's exit is reaped when its pidfd says so.

Requests and answers are pickled over the two pipes: both ends are this module, and a
pickle carries any document a caller may pass (bytes from an RPC, huge ints from a
file) exactly as the in-process call would see it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeos.workers.registry import WorkerType

IDLE_S = 5.0  # a load validates in one burst; an idle supervisor keeps no helper around
MAX_ANSWER = 64 * 1024 * 1024  # bytes of one pickled answer (a list of error lines)


class ValidatorGone(RuntimeError):
    """The helper process died without answering (twice in a row)."""


class ValidatorProcess:
    """Callable as ``check(schema, doc)``: ``schema`` is a schema's name or the schema
    itself; returns the ``path: message`` lines the in-process call would."""

    def __init__(self, idle_s: float = IDLE_S) -> None:
        self.idle_s = idle_s
        self.proc: subprocess.Popen[bytes] | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._lock = threading.Lock()  # one request at a time on the two pipes
        #: where the idle timer runs: the loop of the first request made on one (the
        #: supervisor's config load); without one the helper stays until close()
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Start the helper now, so its imports overlap the supervisor's start-up (the
        config load is its first request). After the zygote's fork: the zygote must
        not hold the helper's stdin open."""
        with self._lock:
            self._running()

    def __call__(self, schema: str | dict[str, Any], doc: Any) -> list[str]:
        return self._ask("validate", schema, doc)

    def worker_types(self, plugin_root: Path | None) -> dict[str, WorkerType]:
        """What :func:`edgeos.workers.registry.scan` finds, scanned in the helper."""
        return self._ask("types", plugin_root)

    def schema_problem(self, schema_doc: Any) -> str | None:
        """:func:`edgeos.common.schemas.schema_problem`, checked in the helper."""
        return self._ask("check_schema", schema_doc)

    def routes(self, doc: Any, ids: list[str]) -> Any:
        """:func:`edgeos.supervisor.route_check.outcome`, checked in the helper."""
        return self._ask("routes", doc, ids)

    def newest_error(self, path: Path) -> int | None:
        """:func:`edgeos.supervisor.errors.newest_error`, opened in the helper."""
        return self._ask("errors", path)

    def node_keys(self, data_dir: Path) -> str | None:
        """:func:`edgeos.ipc.satellite.keys.ensure_node_keys` (made on a first start),
        in the helper: None, or the :class:`~edgeos.ipc.satellite.keys.KeyFileError`'s
        message."""
        return self._ask("node_keys", data_dir)

    def _ask(self, *request: Any) -> Any:
        if self.loop is None:
            with contextlib.suppress(RuntimeError):  # (no loop: the helper stays)
                self.loop = asyncio.get_running_loop()
        with self._lock:
            for _ in range(2):  # a helper killed between two loads: one fresh start
                proc = self._running()
                assert proc.stdin is not None and proc.stdout is not None
                try:
                    pickle.dump(request, proc.stdin, pickle.HIGHEST_PROTOCOL)
                    proc.stdin.flush()
                    ok, answer = pickle.load(proc.stdout)
                except (BrokenPipeError, EOFError):
                    self._end(wait=True)
                    continue
                if self.loop is not None and not self.loop.is_closed():
                    self.loop.call_soon_threadsafe(self._arm_idle)
                if not ok:
                    raise RuntimeError(f"{request[0]} failed in the helper process:\n"
                                       f"{answer}")
                return answer
        raise ValidatorGone("the validation helper process died twice in a row; see the "
                            "daemon's log for its error")

    def _running(self) -> subprocess.Popen[bytes]:
        if self.proc is None or self.proc.poll() is not None:
            self._end(wait=True)
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edgeos.supervisor.validator_process"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        return self.proc

    def _arm_idle(self) -> None:
        """(on the loop) End the helper ``idle_s`` after the last request."""
        if self._idle is not None:
            self._idle.cancel()
        self._idle = asyncio.get_running_loop().call_later(self.idle_s, self._idle_end)

    def _idle_end(self) -> None:
        """(on the loop) End the helper without waiting for it: its exit is reaped when
        its pidfd becomes readable. A request running now re-arms the timer."""
        self._idle = None
        if not self._lock.acquire(blocking=False):
            return
        try:
            proc = self._end(wait=False)
        finally:
            self._lock.release()
        if proc is None:
            return
        loop = asyncio.get_running_loop()
        pidfd = os.pidfd_open(proc.pid)

        def reap() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            proc.wait()  # it has exited: this only collects its status

        loop.add_reader(pidfd, reap)

    def _end(self, wait: bool) -> subprocess.Popen[bytes] | None:
        """EOF on the helper's stdin (it exits at once); with ``wait``, wait for it
        here. Returns a helper still to be waited for."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        if not wait:
            return proc if proc.poll() is None else None
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return None

    def close(self) -> None:
        """End the helper and wait for it (the supervisor's exit)."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        with self._lock:
            self._end(wait=True)


def answer(kind: str, *args: Any) -> Any:
    """One request: ``("validate", schema or name, doc)``, ``("types", plugin_root)`` or
    ``("routes", doc, instance ids)`` or ``("check_schema", schema_doc)`` or
    ``("errors", path of the error store)`` or ``("node_keys", data dir)``."""
    if kind == "node_keys":
        from edgeos.ipc.satellite import keys

        try:
            keys.ensure_node_keys(*args)
        except keys.KeyFileError as exc:
            return str(exc)
        return None
    if kind == "errors":
        from edgeos.supervisor.errors import newest_error

        return newest_error(*args)
    from edgeos.common import schemas

    if kind == "check_schema":
        return schemas.schema_problem(*args)

    if kind == "routes":
        from edgeos.supervisor.route_check import outcome

        return outcome(*args)
    if kind == "types":
        from edgeos.workers import registry

        return registry.scan(*args)
    schema, doc = args
    if isinstance(schema, str):
        return schemas.errors(schema, doc)
    return schemas.validate_against(schema, doc)


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """Answer requests until EOF: ``(True, answer)``, or ``(False, traceback)`` when
    the work itself raised (a broken schema: the caller raises it)."""
    while True:
        try:
            request = pickle.load(requests)
        except EOFError:
            return
        try:
            reply: tuple[bool, Any] = (True, answer(*request))
        except Exception:  # not swallowed: the caller raises it with this traceback
            reply = (False, traceback.format_exc())
        data = pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
        if len(data) > MAX_ANSWER:
            data = pickle.dumps((False, f"answer of {len(data)} bytes is over the limit "
                                        f"of {MAX_ANSWER}"))
        answers.write(data)
        answers.flush()


def main() -> None:
    import logging

    import setproctitle

    setproctitle.setproctitle("edgeos: validator")  # CONTRACT section 3: ps shows edgeos: ...
    # the scan's warnings (a plugin's type already registered) on the daemon's stderr
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
