"""Fakes of the arbiter's collaborators (:class:`edgeos.supervisor.parts.Parts`) and a
fake system that plays the children, so the arbiter runs in a unit test the way
supervisor tests supervisord on ``DummySupervisor``: every OS call, broker call, audit
line, error and published event lands in one ordered ``journal``.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import zmq
import zmq.asyncio
from edgeos.ipc import steady_beats
from edgeos.ipc.rpc import RpcError
from edgeos.supervisor.arbiter import Arbiter
from edgeos.supervisor.parts import Parts
from edgeos.supervisor.paths import Paths
from edgeos.supervisor.seam import Spawned

from tests.unit.supervisor.fakes import FakeSystem

Journal = list[tuple[Any, ...]]
T = TypeVar("T")
SETTLE_S = 0.05  # edgeos.json restart.reload_settle_s of every World


class PlayedSystem(FakeSystem):
    """A fake seam whose children answer on the event loop like real ones: READY soon
    after the spawn (unless told to crash or hang), and an exit on SIGTERM/SIGKILL."""

    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal
        self.arbiter: Arbiter | None = None
        self.crash: set[str] = set()  # instance ids that exit with 1 at once
        self.hang: set[str] = set()  # never READY, ignore SIGTERM
        self.refuse: set[str] = set()  # the spawn itself fails (EAGAIN)
        self.ids: dict[int, str] = {}

    def spawn(self, argv: list[str], env: dict[str, str], stdin_data: bytes,
              on_exit: Callable[[int, int], None]) -> Spawned:
        iid = json.loads(stdin_data)["id"]
        if iid in self.refuse:
            self.journal.append(("refused", iid))
            raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))
        spawned = super().spawn(argv, env, stdin_data, on_exit)
        self.ids[spawned.pid] = iid
        self.journal.append(("spawn", iid))
        loop = asyncio.get_running_loop()
        if iid in self.crash:
            loop.call_soon(self._end, spawned.pid, 1)
        elif iid not in self.hang:
            loop.call_soon(self._ready, iid, spawned.pid)
        return spawned

    def kill_tree(self, pid: int, sig: int) -> None:
        super().kill_tree(pid, sig)
        self.journal.append(("signal", self.ids.get(pid), signal.Signals(sig).name))
        if sig == signal.SIGKILL or self.ids.get(pid) not in self.hang:
            asyncio.get_running_loop().call_soon(self._end, pid, -sig)

    def signal(self, pid: int, sig: int) -> None:
        super().signal(pid, sig)
        self.journal.append(("signal", self.ids.get(pid), signal.Signals(sig).name))

    def _ready(self, iid: str, pid: int) -> None:
        assert self.arbiter is not None
        inst = self.arbiter.instances.get(iid)
        if inst is not None:
            inst.on_ready(pid)

    def _end(self, pid: int, code: int) -> None:
        if pid in self._on_exit:
            self.exit(pid, code)


class FakeLog:
    def __init__(self, instance_id: str, journal: Journal) -> None:
        self.id = instance_id
        self.journal = journal

    def add(self, kind: str, text: str, level: str = "INFO") -> None:
        self.journal.append(("log", self.id, level, text))


class FakeBook:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.logs: dict[str, Any] = {}
        self.on_line: Callable[[dict[str, Any]], None] = lambda entry: None
        self.closed = False

    def get(self, instance_id: str) -> Any:
        return self.logs.setdefault(instance_id, FakeLog(instance_id, self.journal))

    def attach(self, instance_id: str, fd: int, stream: str, watch: Any, unwatch: Any) -> None:
        self.journal.append(("attach", instance_id, stream))

    def close(self) -> None:
        self.closed = True


class FakeErrors:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.rows: dict[tuple[str, str], int] = {}

    def add(self, instance: str, type_name: str | None, message: str,
            traceback: str | None, fatal: bool, ts: int | None = None) -> tuple[int, bool]:
        key = (instance, message)
        new = key not in self.rows
        self.rows[key] = self.rows.get(key, 0) + 1
        self.journal.append(("error", instance, message, fatal))
        return len(self.rows), new

    def recent(self, instance: str | None = None, n: int = 100) -> list[dict[str, Any]]:
        return [{"instance": i, "message": m, "count": c} for (i, m), c in self.rows.items()
                if instance in (None, i)][:n]

    def counts(self) -> dict[str, int]:
        """Per instance, the errors recorded (the real store: in the last 24 h)."""
        out: dict[str, int] = {}
        for (instance, _), count in self.rows.items():
            out[instance] = out.get(instance, 0) + count
        return out

    def close(self) -> None:
        pass


class FakeSentry:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def report(self, instance: str, type_name: str | None, message: str,
               traceback: str | None, fatal: bool) -> None:
        self.journal.append(("sentry", instance, message))

    def close(self) -> None:
        pass


class FakeAudit:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def write(self, entry: dict[str, Any]) -> None:
        self.journal.append(("audit", entry["action"], entry["who"]))


class FakeFeed:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.published: list[tuple[str, Any]] = []

    def wants(self, topic: str) -> bool:
        return False

    def publish(self, topic: str, body: Any) -> None:
        self.published.append((topic, body))

    def close(self) -> None:
        pass


class FakeBroker:
    """The broker's control socket: records each call; ``answers[cmd]`` is a value, or
    an exception to raise."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.answers: dict[str, Any] = {}
        self.states: dict[str, str] = {}  # the last ``states`` told (kept off the journal)

    async def call(self, cmd: str, timeout: float | None = None, **args: Any) -> Any:
        if cmd == "states":  # told after a debounce, in real time: not part of any order
            self.states = args["states"]
            return {}
        self.journal.append(("broker", cmd, args))
        answer = self.answers.get(cmd, {})
        if isinstance(answer, RpcError):
            raise answer
        return answer

    def close(self) -> None:
        pass


class World:
    """An arbiter on fakes, with the journal and the fakes at hand."""

    def __init__(self, root: Path, *, euid: int = 1000, headless: bool = False) -> None:
        self.journal: Journal = []
        self.paths = Paths(config=root / "config", data=root / "data", run=root / "run")
        for d in (self.paths.config, self.paths.data, self.paths.run):
            d.mkdir(parents=True, exist_ok=True)
        # a reload watches what it started for the settle time on the event loop's real
        # clock, not the fake one: short, so a reload scenario takes well under a second
        (self.paths.config / "edgeos.json").write_text(
            json.dumps({"restart": {"reload_settle_s": SETTLE_S}}))
        self.sys = PlayedSystem(self.journal)
        self.parts = Parts(ctx=zmq.asyncio.Context(), logbook=FakeBook(self.journal),
                           errors=FakeErrors(self.journal), sentry=FakeSentry(self.journal),
                           audit=FakeAudit(self.journal), env={"EDGEOS_TEST": "1"},
                           euid=euid, cgroups=None)
        self.arbiter = Arbiter(self.paths, self.sys, self.parts, headless=headless)
        self.sys.arbiter = self.arbiter
        self.feed = FakeFeed(self.journal)
        self.broker = FakeBroker(self.journal)
        self.arbiter.feed = self.feed  # what bind() sets from real sockets
        steady_beats.make_dir(self.paths.run)  # (real ones: the children's beat files)
        self.arbiter.beats = steady_beats.BeatReader(self.paths.run)
        self.arbiter.broker_rpc = self.broker  # type: ignore[assignment]

    def write_connections(self, *connections: dict[str, Any]) -> None:
        doc = {"version": "1.0", "connections": list(connections)}
        (self.paths.config / "connections.json").write_text(json.dumps(doc))

    def since(self, mark: int, *kinds: str) -> Journal:
        """Journal entries after ``mark`` (of the given kinds)."""
        return [e for e in self.journal[mark:] if not kinds or e[0] in kinds]

    def close(self) -> None:
        self.arbiter.close()


def sim(iid: str, **extra: Any) -> dict[str, Any]:
    """A simulator connection (the type every install has)."""
    return {"id": iid, "type": "simulator", "name": iid,
            "config": {"profile": "plc", "rate_hz": 1}, **extra}


def run(world: World, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` on a fresh loop; background tasks end with it."""
    async def main() -> T:
        try:
            return await work()
        finally:
            for task in list(world.arbiter.tasks):
                task.cancel()
            await asyncio.sleep(0)
    return asyncio.run(main())
