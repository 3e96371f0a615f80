"""The arbiter: the process table and everything that acts on it.

It owns the instances (the broker, the admin UI and one worker per enabled
connection), the worker channel (HELLO/READY/HEARTBEAT/ERROR from children), the
events feed, the 1 Hz stats sampling, reload, and ordered start-up and shutdown.
Commands reach it through :mod:`edgeos.supervisor.controller`; it never imports device
libraries and never runs user code.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import zmq
from edgeos.common.files import atomic_write_json
from edgeos.ipc import addresses, protocol, steady_beats
from edgeos.ipc.child import next_beat
from edgeos.ipc.ha.state import HaState
from edgeos.ipc.heartbeat import moved
from edgeos.ipc.rpc import UNAVAILABLE, AsyncRpcClient, RpcError
from edgeos.supervisor import config as cfgmod
from edgeos.supervisor import modefile
from edgeos.supervisor.feed import Feed
from edgeos.supervisor.figures_pace import FiguresPace, PassClock
from edgeos.supervisor.ha_setup import ha_view
from edgeos.supervisor.kernel_limits import KernelLimits
from edgeos.supervisor.limits import CpuThrottle, RamGuard
from edgeos.supervisor.low_power import history_enabled
from edgeos.supervisor.parts import Parts
from edgeos.supervisor.paths import Paths
from edgeos.supervisor.policy import RestartPolicy
from edgeos.supervisor.process import ALIVE, Instance, InstanceConfig, State
from edgeos.supervisor.satellite_setup import GATEWAY, remote_rows, satellite_instances
from edgeos.supervisor.seam import Spawned, System
from edgeos.supervisor.spawner import Spawner
from edgeos.supervisor.stats import Sampler
from edgeos.workers import registry

if TYPE_CHECKING:
    from edgeos.supervisor.jobs import JobRunner

log = logging.getLogger(__name__)

BROKER_ID = "broker"
STATE_FILE = "state.json"
UI_ID = "admin-ui"
HISTORIAN_ID = "historian"
SYSTEM_START_TIMEOUT_S = 15.0
ROUTES_TIMEOUT_S = 60.0  # a large (size-limited) routing.json on a slow board
IDLE_SAMPLE_S = 10.0  # stats sampling while nobody subscribes to them
#: the stats pass woke this much later than it meant to: the supervisor itself did not
#: run (stopped, suspended, starved), so the heartbeats it missed are not the children's
STALL_S = 2.0
STATES_DEBOUNCE_S = 0.2  # the broker hears the workers' states at most this often
#: the stats pass, this long after the children's aligned heartbeats: the children
#: (niced, many) reach the supervisor tens of ms after their tick on a loaded host, and
#: a beat heard after the period's full pass made a second pass for its row next second
STATS_PHASE_S = 0.25
SAMPLE_AGE_S = 0.5  # a status reads /proc afresh when the last pass is older than this
FIGURES = "figures"  # topic of the lean 1 Hz rows, see Arbiter.figures
FIGURE_FIELDS = ("id", "cpu_percent", "memory_mb", "pps_in", "pps_out")
FIGURE_RATES = FIGURE_FIELDS[3:]  # the row's figures a child's heartbeat brings
NO_FIGURES: dict[str, Any] = {}  # (read only) the figures of an instance without a process


class Arbiter:
    """Spawns and watches every child process; the single owner of their state."""

    def __init__(self, paths: Paths, system: System, parts: Parts, *,
                 headless: bool = False, web: dict[str, Any] | None = None,
                 performance: str = "BALANCED") -> None:
        self.paths = paths
        self.sys = system
        self.parts = parts
        self.headless = headless
        self.web = web or {}
        self.performance = performance
        self.settings = cfgmod.Settings()
        self.instances: dict[str, Instance] = {}
        self.mode = "normal"
        self.ctx = parts.ctx
        self.sampler = Sampler(system)
        self.samples: dict[str, dict[str, Any]] = {}
        self._sampled_at = float("-inf")
        self.pace = FiguresPace()  # which figures rows a pass publishes (figures_pace.py)
        self.pass_clock = PassClock(system)  # and when the next pass runs
        self.logbook = parts.logbook
        self.logbook.on_line = self._on_log_line
        self.errors = parts.errors
        self.sentry = parts.sentry
        self._jobs: JobRunner | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiters: list[tuple[str, Callable[[Instance], bool], asyncio.Future[None]]] = []
        self.ram = RamGuard(system, self._on_limit_event)
        self._ram_wake = asyncio.Event()
        self.throttles: dict[str, CpuThrottle] = {}
        self.tasks: set[asyncio.Task[None]] = set()  # background work, see _background
        self._states_due = False
        self.kernel = KernelLimits(parts.cgroups, self._on_limit_event) \
            if parts.cgroups else None
        self.broker_rpc: AsyncRpcClient | None = None
        self.beats: steady_beats.BeatReader | None = None  # (bind)
        self.channel: zmq.Socket[bytes] | None = None  # the worker channel (bind)
        self.links: dict[str, dict[str, Any]] = {}  # satellite link roles (satellite_setup)
        self.ha: HaState | None = None  # role and epoch of a core (ha_setup, ha_commands)
        self.spawner = Spawner(self.wait_for, self.publish)

    # -- sockets ---------------------------------------------------------------------
    def bind(self) -> None:
        # The worker channel is read by a plain fd callback, not zmq.asyncio: heartbeats
        # are the supervisor's busiest traffic, and this costs no future or task per message.
        channel = self.channel = addresses.bind(zmq.Socket(self.ctx, zmq.ROUTER),
                                                self.paths.run, addresses.SUPERVISOR)
        channel.setsockopt(zmq.LINGER, 0)
        channel.setsockopt(zmq.ROUTER_HANDOVER, 1)
        # the children's steady beats: files read by the pass (read_beats), never watched
        steady_beats.make_dir(self.paths.run)
        self.beats = steady_beats.BeatReader(self.paths.run)
        xpub = zmq.Socket(self.ctx, zmq.XPUB)
        xpub.setsockopt(zmq.LINGER, 0)
        self.feed = Feed(addresses.bind(xpub, self.paths.run, addresses.EVENTS), self.sys)
        self.feed.on_subscribe = lambda: self.pass_clock.hurry(self._to_next_second)
        self.broker_rpc = AsyncRpcClient(self.ctx, addresses.endpoint(self.paths.run,
                                                                      addresses.BROKER_CTL))

    def _bind(self, kind: int, name: str) -> zmq.asyncio.Socket:
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        return addresses.bind(sock, self.paths.run, name)

    def publish(self, topic: str, body: Any) -> None:
        self.feed.publish(topic, body)

    # -- instances -------------------------------------------------------------------
    def _make(self, cfg: InstanceConfig) -> Instance:
        policy = RestartPolicy.from_config(self.settings.restart)
        inst = Instance(cfg, self.sys, self._launch, self._on_change, self._on_spawned, policy)
        if self.kernel is not None:
            inst.explain_exit = self.kernel.explain_exit
        inst.last_words = self._drain_channel
        self._locks.setdefault(cfg.id, asyncio.Lock())
        return inst

    def lock(self, instance_id: str) -> asyncio.Lock:
        """The per-instance command lock: commands on one instance queue, others don't."""
        return self._locks.setdefault(instance_id, asyncio.Lock())

    def _launch(self, inst: Instance) -> tuple[list[str], dict[str, str], bytes]:
        module = {"worker": "edgeos.workers", "broker": "edgeos.ipc.broker",
                  "admin-ui": "edgeos.admin_ui", "uplink": "edgeos.ipc.satellite",
                  "satellite-gateway": "edgeos.ipc.satellite",
                  "historian": "edgeos.ipc.historian", "ha-mirror": "edgeos.ipc.ha"}
        argv = [sys.executable, "-m", module[inst.cfg.role]]
        env = dict(self.parts.env)
        extra: dict[str, Any] = {"log_level": self.settings.log_level}
        if inst.cfg.role == "worker":
            extra["entry"] = registry.entry(inst.cfg.type)
            extra["path"] = registry.plugin_path(inst.cfg.type)
            extra["no_tls"] = registry.manifest(inst.cfg.type).get("needs_tls") is False
        elif inst.cfg.role == "broker":
            extra["instances"] = self.instance_table()
            extra["frozen"] = self.mode == "panic"
        elif inst.cfg.role == "admin-ui":
            extra["web"] = {**self.web, "allowed_hosts": self.settings.web.get("allowed_hosts", [])}
        elif inst.cfg.role in self.links:
            argv.append(self.links[inst.cfg.role]["arg"])
            extra["link"] = self.links[inst.cfg.role]["link"]
        elif inst.cfg.role == "historian":
            extra["history"] = self.settings.history
        spec = {"id": inst.id, "type": inst.cfg.type, "name": inst.cfg.name,
                "config": inst.cfg.config, "limits": inst.cfg.limits,
                "run_dir": str(self.paths.run), "data_dir": str(self.paths.data),
                "config_dir": str(self.paths.config), "extra": extra}
        return argv, env, json.dumps(spec).encode()

    def _on_spawned(self, inst: Instance, spawned: Spawned) -> None:
        if self.kernel is None or not self.kernel.place(inst, spawned.pid):
            self._ram_wake.set()  # RSS sampling from the first moment
        for fd, stream in ((spawned.stdout, "stdout"), (spawned.stderr, "stderr")):
            if fd is not None:
                self.logbook.attach(inst.id, fd, stream, self.sys.watch_fd, self.sys.unwatch_fd)

    def _on_change(self, inst: Instance, old: State, new: State, reason: str) -> None:
        self.logbook.get(inst.id).add("event", f"state {old} -> {new}: {reason}",
                                      "WARNING" if new in (State.ERROR, State.KILLED) else "INFO")
        self.publish("state", {"id": inst.id, "old": old, "new": new, "reason": reason,
                               "pid": inst.pid, "ts": protocol.now_ms()})
        if new == State.ERROR:
            self.record_error(inst, f"gave up: {reason}", None, True)
        for waiter in list(self._waiters):
            iid, pred, fut = waiter
            if iid == inst.id and pred(inst) and not fut.done():
                fut.set_result(None)
                self._waiters.remove(waiter)
        if inst.cfg.role == "broker" and new == State.RUNNING:
            self._background(self._sync_broker(), f"{inst.id}: broker sync")
        elif inst.cfg.role == "worker":
            self._tell_states()
        if old == State.STARTING and new in (State.RUNNING, State.DISCONNECTED):
            self.samples.pop(inst.id, None)  # its nice changed at READY: read it afresh
            self._engage_throttle(inst)
            if inst.restarts and inst.cfg.role == "worker":  # a type that restarts: a
                self.sys.prefork(inst.cfg.type, self._launch(inst)[1])  # spare for the next
        elif new not in (State.RUNNING, State.DISCONNECTED):
            if self.kernel is not None and new not in ALIVE:
                self.kernel.exited(inst)
            throttle = self.throttles.pop(inst.id, None)
            if throttle is not None:
                throttle.release()

    def record_error(self, inst: Instance, message: str, traceback: str | None, fatal: bool,
                     ts: int | None = None) -> None:
        """Store an error (a repeat only counts) and report new ones to Sentry."""
        _, new = self.errors.add(inst.id, inst.cfg.type, message, traceback, fatal, ts)
        self.publish("error", {"instance": inst.id, "message": message, "fatal": fatal,
                               "traceback": traceback, "new": new})
        if new:
            self.sentry.report(inst.id, inst.cfg.type, message, traceback, fatal)

    async def wait_for(self, inst: Instance, pred: Callable[[Instance], bool],
                       timeout: float) -> bool:
        """Wait (event-driven) until ``pred(inst)`` holds; False on timeout."""
        if pred(inst):
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (inst.id, pred, fut)
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _on_log_line(self, entry: dict[str, Any]) -> None:
        self.publish(f"log.{entry['instance']}", entry)

    @property
    def jobs(self) -> JobRunner:
        """The discovery jobs' runner, made on the first discovery command: a node that
        runs none keeps its module out of the supervisor (issue 16, RSS)."""
        if self._jobs is None:
            from edgeos.supervisor.jobs import JobRunner

            self._jobs = JobRunner(dict(self.parts.env))
        return self._jobs

    def workers(self) -> list[Instance]:
        return [i for i in self.instances.values() if i.cfg.role == "worker"]

    def instance_table(self) -> dict[str, dict[str, Any]]:
        """What the broker needs to know of each instance: type and pps limit."""
        table = {i.id: {"type": i.cfg.type, "max_pps": i.cfg.limits.get("max_pps", 500),
                        "cut": i.cut} for i in self.workers()}
        if "satellite-gateway" in self.links:
            table.update(satellite_instances(self.paths.data))
        return table

    def satellite_ids(self) -> list[str]:
        """Trusted satellites: their ids prefix addresses like instance ids do."""
        return list(satellite_instances(self.paths.data)) if "satellite-gateway" in self.links \
            else []

    async def _sync_broker(self) -> None:
        """Tell a (re)started broker the current instance table and mode."""
        with contextlib.suppress(RpcError):
            await self.broker_call("instances", instances=self.instance_table())
            await self.broker_call("freeze", frozen=self.mode == "panic")
            await self.broker_call("states", states=self._states())

    def _states(self) -> dict[str, str]:
        return {i.id: str(i.state) for i in self.workers()}

    def _tell_states(self) -> None:
        """Bridges learn the workers' states from the broker (over their own link, never
        a control socket): tell it, once per burst of changes."""
        if not self._states_due:
            self._states_due = True
            self._background(self._push_states(), "workers' states to the broker")

    async def _push_states(self) -> None:
        await asyncio.sleep(STATES_DEBOUNCE_S)
        self._states_due = False
        with contextlib.suppress(RpcError):
            await self.broker_call("states", states=self._states())

    async def broker_call(self, cmd: str, **args: Any) -> Any:
        broker = self.instances.get(BROKER_ID)
        if broker is None or broker.state not in (State.RUNNING, State.STARTING):
            raise RpcError("the broker is not running", UNAVAILABLE)
        assert self.broker_rpc is not None
        return await self.broker_rpc.call(cmd, **args)

    # -- worker channel --------------------------------------------------------------
    def watch_channel(self) -> None:
        """Read the worker channel whenever its (edge-triggered) fd signals."""
        assert self.channel is not None
        self.sys.watch_fd(self.channel.getsockopt(zmq.FD), self._drain_channel)
        self._drain_channel()

    def _drain_channel(self) -> None:
        sock = self.channel
        if sock is None:  # not bound (unit tests on the fake seam)
            return
        while True:  # until EAGAIN (cheaper than asking zmq.EVENTS before each message)
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            if len(frames) < 3:
                continue
            inst = self.instances.get(frames[0].decode(errors="replace"))
            # a process that is gone says nothing more, but its last ERROR can come
            # after its exit (the pidfd and the channel race): that still counts
            if inst is None or (inst.pid is None and frames[1] != protocol.ERROR):
                continue
            try:
                msg = protocol.unpack(frames[2])
            except ValueError:
                continue
            self._on_message(inst, frames[1], msg)

    def read_beats(self) -> None:
        """The children's steady beats since the last read (a pass, a status): each
        counts for the watchdog from the time it was sent. They come in a burst each
        ``heartbeat_s``; reading them here instead of waking for them left the idle
        supervisor one wake-up per pass (docs/idle-pacing.md, rounds 8 and 9)."""
        if self.beats is None:
            return
        for inst in self.instances.values():
            if inst.pid is not None:
                beat = self.beats.read(inst.id)  # (one read before: too old, ignored)
                if beat is not None and beat.pid == inst.pid:
                    inst.on_heartbeat(beat.counters, beat.sent)
        if len(self.beats.fds) > len(self.instances):
            self.beats.keep(self.instances)

    def _on_message(self, inst: Instance, kind: bytes, msg: Any) -> None:
        """Act on one message from a child."""
        if kind == protocol.HEARTBEAT:
            # a child's steady beat (once per heartbeat_s) is no news: the period's full
            # pass carries its row; one that arrives late for that pass costs no second.
            # News for the row is a moved rate (it carries no other counter)
            news = not isinstance(msg, dict) or moved(
                [inst.counters.get(k) for k in FIGURE_RATES], [msg.get(k) for k in FIGURE_RATES])
            inst.on_heartbeat(msg)
            if news and self.pace.touch(inst.id) and self.feed.wants(FIGURES):  # its row
                self.pass_clock.hurry(self._to_next_second)  # goes out next second
        elif kind == protocol.READY:
            inst.on_ready(msg.get("pid", -1))
            self._watch_deadline(inst)
        elif kind == protocol.ERROR:
            inst.on_error(msg.get("message", "error"))
            self.record_error(inst, msg.get("message", "error"), msg.get("traceback"),
                              bool(msg.get("fatal")), msg.get("ts"))
        elif kind == protocol.EVENT:
            self._on_event(inst, msg)

    def _on_event(self, inst: Instance, msg: dict[str, Any]) -> None:
        """Events children raise for the supervisor to act on."""
        if inst.id == BROKER_ID and msg.get("kind") == "spam":
            target = self.instances.get(msg.get("instance", ""))
            if target is not None and target.alive:
                reason = (f"spam guard: {msg.get('pps', 0):.0f} pps over limit "
                          f"{msg.get('limit')} pps")
                target.spam_pps = msg.get("pps")  # not a counter: a heartbeat replaces those
                target.on_error(reason)
                self.record_error(target, reason, None, False)
                target.stop(reason, target=State.SUSPENDED_BY_SPAM)

    # -- limits ----------------------------------------------------------------------
    def _on_limit_event(self, inst: Instance, kind: str, message: str) -> None:
        level = "ERROR" if kind.endswith("exceeded") else "WARNING"
        self.logbook.get(inst.id).add("event", message, level)
        self.publish("limit", {"id": inst.id, "kind": kind, "message": message,
                               "ts": protocol.now_ms()})
        if level == "ERROR":
            self.record_error(inst, message, None, False)

    async def ram_loop(self) -> None:
        """RSS of every capped process the kernel does not hold, each at its own pace:
        every 0.25 s near its limit, up to every 2 s far from it."""
        due: dict[int, float] = {}  # pid -> when to sample it next
        while True:
            now = self.sys.monotonic()
            pids = set()
            for inst in list(self.instances.values()):
                if inst.pid is None or inst.state not in (
                        State.RUNNING, State.DISCONNECTED, State.STARTING) or (
                        self.kernel is not None and self.kernel.enforces(inst)):
                    continue
                pids.add(inst.pid)
                if due.setdefault(inst.pid, now) <= now:
                    due[inst.pid] = now + self.ram.check(inst)
            for pid in set(due) - pids:
                del due[pid]
            # a new process is sampled at once: every spawn sets _ram_wake; with nothing
            # to sample (the kernel holds every limit) the loop sleeps until then
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ram_wake.wait(), max(0.0, min(due.values()) - now)
                                       if due else None)
            self._ram_wake.clear()

    def _engage_throttle(self, inst: Instance) -> None:
        share = inst.cfg.limits.get("max_cpu_share")
        if not share or float(share) >= 100 or inst.pid is None or (
                self.kernel is not None and self.kernel.enforces(inst)):
            return  # (with cgroups the kernel enforces the CPU quota)
        throttle = self.throttles[inst.id] = CpuThrottle(self.sys, inst, float(share))

        async def cycle() -> None:
            try:
                while self.throttles.get(inst.id) is throttle and inst.pid == throttle.pid:
                    await asyncio.sleep(throttle.step())
            finally:  # also when cancelled or failing: never leave it SIGSTOPped
                throttle.release()

        self._background(cycle(), f"{inst.id}: CPU throttle")

    def _background(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Run ``work`` as a task that is kept (not garbage collected mid-way) and
        whose failure is logged rather than lost with the task."""
        task = asyncio.get_running_loop().create_task(work, name=what)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    # -- sampling --------------------------------------------------------------------
    async def sample_loop(self) -> None:
        """Figures of every process in one pass, each second: the full ``stats`` rows
        while someone subscribes to them (the admin UI), the lean ``figures`` rows (what
        the historian keeps: CPU, RAM, rates) while someone wants those; with neither,
        every ``IDLE_SAMPLE_S`` only, so a one-off ``status`` has a recent CPU baseline
        (it refreshes older figures itself). The ``figures`` rows are paced: all of
        them every ``FIGURES_EVERY_S``, in between only those of instances that sent a
        heartbeat (children beat early only when a rate moved), see figures_pace.py.
        It checks every instance's heartbeat first (the watchdog: no timer per
        instance). The pass runs just after the children's aligned heartbeats
        (ipc/child.py), with their fresh counters, in the same second's wake-ups, and
        only when there is something to do (:meth:`_pass_delay`)."""
        feed = self.feed
        planned: float | None = None
        while True:
            self.read_beats()  # the steady beats since the last pass first
            if planned is not None and self.sys.monotonic() - planned > STALL_S:
                self.forgive_stall(self.sys.monotonic() - planned)
            for inst in list(self.instances.values()):  # the watchdog, one timer for all
                inst.check_heartbeat()
            watched = feed.wants("stats")
            if watched:
                self.publish("stats", [*self.status(), *remote_rows(self.instances)])
            if feed.wants(FIGURES):
                ids = self.pace.rows(self.sys.monotonic(), watched)
                if ids is None or ids:
                    self.publish(FIGURES, self.figures(ids))
            else:
                self.pace.moved.clear()  # (nobody to tell)
                if self.sys.monotonic() - self._sampled_at >= IDLE_SAMPLE_S:
                    self._sample_all(io=False)
            delay = self._pass_delay(watched)
            planned = self.sys.monotonic() + delay
            await self.pass_clock.sleep(delay)

    def forgive_stall(self, stalled_s: float) -> None:
        """The supervisor did not run for ``stalled_s``: move every heartbeat forward
        by that much before the watchdog looks. A child's beats could not be heard
        meanwhile, and one that was stopped with us (a SIGSTOP of the group, a VM
        paused) needs a moment to beat again: killing it as hung would be our fault."""
        log.warning("the supervisor did not run for %.1f s (stopped, suspended or starved): "
                    "the watchdog does not count that time against the children", stalled_s)
        for inst in self.instances.values():
            if inst.last_heartbeat is not None:
                inst.last_heartbeat += stalled_s

    @staticmethod
    def _to_next_second(now: float) -> float:
        return next_beat(now, 1.0, STATS_PHASE_S)

    def _pass_delay(self, watched: bool) -> float:
        """Seconds to the next pass: the next whole second while someone watches the
        stats or news waits; else the next full ``figures`` pass or the first watchdog
        deadline, whichever comes first (an instance that turns ready meanwhile brings
        its deadline forward itself: :meth:`_watch_deadline`)."""
        now = self.sys.monotonic()
        if watched or self.pace.moved:
            return self._to_next_second(now)
        due = now + next_beat(now, self.pace.every, STATS_PHASE_S)
        for inst in self.instances.values():
            if inst.pid is not None and inst.last_heartbeat is not None:
                due = min(due, self._deadline_pass(inst))
        return max(0.0, due - now)

    def _deadline_pass(self, inst: Instance) -> float:
        """When the pass that catches ``inst`` hung runs: the whole second (plus the
        phase) after its watchdog deadline."""
        assert inst.last_heartbeat is not None
        deadline = inst.last_heartbeat + inst.cfg.limit("heartbeat_s", 5.0) * \
            inst.MISSED_HEARTBEATS
        return deadline + self._to_next_second(deadline)

    def _watch_deadline(self, inst: Instance) -> None:
        """``inst`` turned ready while the pass sleeps (up to ``FIGURES_EVERY_S``): wake
        it by the new instance's first watchdog deadline, should that come sooner."""
        if inst.last_heartbeat is not None:
            due = self._deadline_pass(inst)
            self.pass_clock.hurry(lambda now: due - now)

    def figures(self, ids: set[str] | None = None) -> list[list[Any]]:
        """``[id, cpu_percent, memory_mb, pps_in, pps_out]`` of every instance with a
        process (satellites' workers as ``<sat>.<id>``), or of those in ``ids`` only
        (their processes read afresh): the instance history's input, without building
        and packing a full status row per instance each second."""
        samples = self.samples
        if ids is not None:
            for iid in ids:
                inst = self.instances.get(iid)
                if inst is not None and inst.pid:
                    samples[iid] = self.sampler.sample(inst.pid, io=False)
        elif self.sys.monotonic() - self._sampled_at >= SAMPLE_AGE_S:
            self._sample_all(io=False)  # (the rows have no disk I/O: a status reads it)
        else:  # fresh, but READY dropped a sample: read that process, never write 0 MB
            for inst in self.instances.values():
                if inst.pid and inst.id not in samples:
                    samples[inst.id] = self.sampler.sample(inst.pid, io=False)
        out = []
        for inst in self.instances.values():
            if inst.pid and (ids is None or inst.id in ids):
                sample, c = samples.get(inst.id) or NO_FIGURES, inst.counters
                out.append([inst.id, sample.get("cpu_percent", 0.0),
                            sample.get("memory_mb", 0.0), c.get("pps_in", 0.0),
                            c.get("pps_out", 0.0)])
        if ids is None or GATEWAY in ids:
            for row in remote_rows(self.instances):
                if row.get("pid"):
                    out.append([row["id"], *(row.get(k, 0.0) for k in FIGURE_FIELDS[1:])])
        return out

    def _sample_all(self, io: bool = True) -> None:
        live = {i.pid: i for i in self.instances.values() if i.pid is not None}
        for pid, inst in live.items():
            self.samples[inst.id] = self.sampler.sample(pid, io)
        self.sampler.forget(set(live))
        self._sampled_at = self.sys.monotonic()

    def status(self, instance_id: str | None = None) -> list[dict[str, Any]]:
        """A row per instance; it runs each second for the stats feed, so it reads each
        figure once (its process's sample, its heartbeat counters) and calls nothing
        per row that a row without a process does not need."""
        self.read_beats()  # (their heartbeat_age_s)
        insts = ([self.instances[instance_id]] if instance_id else self.instances.values())
        now = self.sys.monotonic()
        if now - self._sampled_at >= SAMPLE_AGE_S:
            self._sample_all()
        recorded = self.errors.counts()  # the Errors page's figure, same window
        kernel, throttles, samples = self.kernel, self.throttles, self.samples
        return [self._row(inst, now, recorded, kernel, throttles, samples) for inst in insts]

    def _row(self, inst: Instance, now: float, recorded: dict[str, int],
             kernel: KernelLimits | None, throttles: dict[str, CpuThrottle],
             samples: dict[str, dict[str, Any]]) -> dict[str, Any]:
        cfg, pid, limits = inst.cfg, inst.pid, inst.cfg.limits
        if pid:
            sample = samples.get(inst.id)
            if sample is None:
                sample = samples[inst.id] = self.sampler.sample(pid)
            c = inst.counters
            bus = c.get("bus") or {}
            started, beat = inst.started_at, inst.last_heartbeat
            uptime = round(now - started, 1) if started else 0
            beat_age = round(now - beat, 2) if beat else None
        else:
            sample = c = NO_FIGURES
            bus, uptime, beat_age = {}, 0, None  # (a row's own dict: callers may keep it)
        throttle = throttles.get(inst.id)
        return {
            "id": cfg.id, "name": cfg.name, "type": cfg.type,
            "role": cfg.role, "status": str(inst.state), "reason": inst.reason,
            "enabled": cfg.enabled, "critical": cfg.critical,
            "pid": pid, "nice": sample.get("nice", limits.get("nice")),
            "cpu_percent": sample.get("cpu_percent", 0.0),
            "memory_mb": sample.get("memory_mb", 0.0),
            "memory_percent": sample.get("memory_percent", 0.0),
            "disk_io_read_mb": sample.get("disk_io_read_mb", 0.0),
            "disk_io_write_mb": sample.get("disk_io_write_mb", 0.0),
            "network_packets_sent": bus.get("packets_sent", c.get("out_total", 0)),
            "network_packets_recv": bus.get("packets_recv", c.get("in_total", 0)),
            "pps_in": c.get("pps_in", 0.0), "pps_out": c.get("pps_out", 0.0),
            "uptime_seconds": uptime,
            "restarts": inst.restarts,
            "error_count": inst.error_count + int(c.get("error_count", 0)),
            "errors_24h": recorded.get(cfg.id, 0),
            "last_error": c.get("last_error") or inst.last_error,
            "heartbeat_age_s": beat_age,
            "limits": limits, "dropped": c.get("dropped", 0),
            "bus": bus, "spam_pps": inst.spam_pps,
            "enforcement": kernel.label(inst) if kernel else "sampling",
            "throttled_s": round(throttle.throttled_s, 1) if throttle is not None else
            round(kernel.throttled_s(inst), 1) if kernel else 0.0,
        }

    # -- panic -----------------------------------------------------------------------
    def load_mode(self) -> None:
        """A daemon restarted in panic stays in panic until an admin recovers."""
        self.mode, refused = modefile.read_mode(self.paths.data / STATE_FILE)
        if refused:  # fail safe: a state file we cannot trust never means "normal"
            log.error("%s; staying in PANIC (fail safe) until an admin runs 'edgectl "
                      "recover'", refused)
            from edgeos.ipc.storage.sqlite import move_aside  # sqlite3: not at idle

            move_aside(self.paths.data / STATE_FILE, refused)
            why = f"state file refused: {refused}"
            atomic_write_json(self.paths.data / STATE_FILE, {
                "mode": "panic", "since": protocol.now_ms(), "who": "system", "why": why})
            self.audit("panic", "system", why)
        elif self.mode == "panic":
            log.warning("starting in PANIC mode (persisted); no device worker is started")

    def _persist_mode(self, who: str, why: str) -> None:
        record = {"mode": self.mode, "since": protocol.now_ms(), "who": who, "why": why}
        atomic_write_json(self.paths.data / STATE_FILE, record)
        self.audit("panic" if self.mode == "panic" else "recover", who, why)
        self.publish("mode", record)

    def audit(self, action: str, who: str, why: str = "", **data: Any) -> None:
        """Append one line to the audit log (who did what, when, why)."""
        self.parts.audit.write({"ts": protocol.now_ms(), "action": action, "who": who,
                                "why": why, **data})

    async def panic(self, who: str, why: str) -> dict[str, Any]:
        """Fail-safe values first, then stop every device worker and routed delivery,
        freeze restarts, keep the supervisor and UI up, and persist the mode."""
        t0 = self.sys.monotonic()
        if self.mode == "panic":
            return {"mode": self.mode, "already": True}
        self.mode = "panic"
        self._persist_mode(who, why)
        for inst in self.workers():  # from now on nothing restarts
            inst.frozen = True
        writes = {f"{i.id}.{path}": value for i in self.workers() if i.alive
                  for path, value in i.cfg.failsafe.items()}
        failsafe: dict[str, Any] = {}
        if writes:
            try:
                failsafe = await self.broker_call("failsafe", writes=writes, wait_s=1.0)
            except RpcError as exc:
                failsafe = {"error": str(exc)}
        with contextlib.suppress(RpcError):
            await self.broker_call("freeze", frozen=True)
        await asyncio.gather(*(self.stop_instance(i, f"panic: {why}") for i in self.workers()))
        took = self.sys.monotonic() - t0
        self.audit("panic_done", who, why, seconds=round(took, 3), failsafe=failsafe)
        return {"mode": self.mode, "failsafe": failsafe, "seconds": round(took, 3)}

    async def recover(self, who: str) -> dict[str, Any]:
        """Leave panic: unfreeze, resume routing, start the enabled workers again."""
        if self.mode != "panic":
            return {"mode": self.mode, "already": True}
        self.mode = "normal"
        self._persist_mode(who, "recover")
        with contextlib.suppress(RpcError):
            await self.broker_call("freeze", frozen=False)
        started = []
        for inst in self.workers():
            inst.frozen = False
            if inst.cfg.enabled and cfgmod.type_problem(inst.cfg.type, self.settings) is None:
                inst.start("recovered from panic")
                started.append(inst)
        await asyncio.gather(*(self.wait_for(i, lambda i: i.state != State.STARTING,
                                             i.READY_TIMEOUT_S) for i in started))
        return {"mode": self.mode, "started": [i.id for i in started]}

    # -- start-up, reload, shutdown --------------------------------------------------
    def load(self) -> list[InstanceConfig]:
        """Read the config dir; raises ConfigError (nothing applied)."""
        self.settings = cfgmod.load_settings(self.paths.config)
        return ha_view(self.ha, cfgmod.load_connections(self.paths.config, self.settings))

    def _read_config(self) -> tuple[cfgmod.Settings, list[InstanceConfig]]:
        """The config dir's settings and connections, validated; raises ConfigError."""
        settings = cfgmod.load_settings(self.paths.config)
        path = self.paths.config / cfgmod.CONNECTIONS
        doc = cfgmod.read_json(path) if path.exists() else {"connections": []}
        return settings, cfgmod.validate_connections(doc, settings)

    def _system_config(self, iid: str, role: str) -> InstanceConfig:
        # The broker and the UI run above the device workers (default nice 5).
        limits = {**self.settings.limits, "max_ram_mb": 512,
                  "nice": -2 if self.parts.euid == 0 else 0, "heartbeat_s": 5}
        return InstanceConfig(id=iid, type=role, name=iid, role=role, limits=limits)

    async def start(self, configs: list[InstanceConfig]) -> None:
        """Ordered start-up: broker, then workers (in parallel), then the admin UI."""
        broker = self.instances[BROKER_ID] = self._make(self._system_config(BROKER_ID,
                                                                            "broker"))
        for cfg in configs:
            inst = self.instances[cfg.id] = self._make(cfg)
            inst.frozen = self.mode == "panic"
        broker.start("daemon start")
        for inst in {i.cfg.type: i for i in self.workers() if i.cfg.enabled}.values():
            self.sys.prefork(inst.cfg.type, self._launch(inst)[1])  # templates meanwhile
        if not await self.wait_for(broker, lambda i: i.state == State.RUNNING,
                                   SYSTEM_START_TIMEOUT_S):
            log.error("broker did not become ready; starting workers anyway")
        links = [self._make(self._system_config(role, role)) for role in self.links]
        for link in links:  # the uplink subscribes before the first device value
            self.instances[link.id] = link
            link.start("daemon start")
        await asyncio.gather(*(self.wait_for(i, lambda i: i.state != State.STARTING,
                                             SYSTEM_START_TIMEOUT_S) for i in links))
        if history_enabled(self.settings.history, self.performance):  # also headless
            historian = self._make(self._system_config(HISTORIAN_ID, "historian"))
            self.instances[HISTORIAN_ID] = historian
            historian.start("daemon start")
        if self.mode == "normal":
            started = [i for i in self.workers() if i.cfg.enabled]
            for inst in started:
                inst.start("daemon start")
            await asyncio.gather(*(self.wait_for(i, lambda i: i.state != State.STARTING,
                                                 SYSTEM_START_TIMEOUT_S) for i in started))
        if not self.headless:
            ui = self.instances[UI_ID] = self._make(self._system_config(UI_ID, "admin-ui"))
            ui.start("daemon start")

    async def reload(self) -> dict[str, Any]:
        """Apply a changed config dir: only instances that changed are touched."""
        # read and validated in a thread: validation waits for its helper process
        # (supervisor/validator_process.py), seconds on a loaded machine
        settings, configs = await asyncio.to_thread(self._read_config)
        configs = ha_view(self.ha, configs)
        new_ids = [c.id for c in configs]
        routes_ok = True
        try:  # the broker checks routing.json against the new instance set first
            await self.broker_call("check_routes_file",
                                   instance_ids=[*new_ids, *self.satellite_ids()])
        except RpcError as exc:
            if exc.code != UNAVAILABLE:
                raise
            routes_ok = False
        history_changed = settings.history != self.settings.history
        old_history = self.settings.history
        self.settings = settings
        wanted = {c.id: c for c in configs}
        report: dict[str, list[str]] = {"added": [], "removed": [], "changed": [],
                                        "unchanged": []}
        stops = []
        for iid, inst in list(self.instances.items()):
            if inst.cfg.role != "worker":
                continue
            if iid not in wanted:
                report["removed"].append(iid)
                stops.append(self._retire(inst))
            elif dataclasses.asdict(wanted[iid]) != dataclasses.asdict(inst.cfg):
                report["changed"].append(iid)
                stops.append(self._replace(inst, wanted[iid]))
            else:
                report["unchanged"].append(iid)
        fresh = []
        for iid, cfg in wanted.items():
            if iid not in self.instances:
                report["added"].append(iid)
                inst = self.instances[iid] = self._make(cfg)
                inst.frozen = self.mode == "panic"
                if cfg.enabled and self.mode == "normal":
                    fresh.append(inst)
        from edgeos.supervisor import rollback  # a reload's only: kept out at idle (issue 16)

        tried = rollback.trials(self, report["changed"], report["added"])
        await asyncio.gather(*stops)
        started = [self.instances[i] for i in report["changed"]]
        await asyncio.gather(*(self.wait_for(i, lambda i: i.state != State.STARTING,
                                             i.READY_TIMEOUT_S) for i in started))
        left = await self.spawner.start(fresh, "added by reload")
        if left:  # cancelled
            report["not_started"] = left
        settle_s = float(self.settings.restart.get("reload_settle_s",
                                                   rollback.DEFAULT_SETTLE_S))
        rolled = await rollback.settle(self, tried, settle_s)
        await self._broker_takes_routes(routes_ok)
        if history_changed:
            report["changed"].append(HISTORIAN_ID)
            await self._reload_historian()
            why = await rollback.historian(self, HISTORIAN_ID, old_history, settle_s)
            if why is not None:
                rolled[HISTORIAN_ID] = why
        if rolled:  # Reload answers an error with this report
            report["rolled_back"] = rolled
        return report

    async def _broker_takes_routes(self, validated: bool) -> Any:
        """Reload succeeds only once the broker runs the new set: a (re)starting broker
        is waited for, and an answer that does not come is an error, never a success."""
        broker = self.instances.get(BROKER_ID)
        if broker is not None:
            await self.wait_for(broker, lambda i: i.state == State.RUNNING,
                                SYSTEM_START_TIMEOUT_S)
        try:
            if not validated:  # the broker was away when the reload began
                await self.broker_call("check_routes_file",
                                       instance_ids=[i.id for i in self.workers()])
            if broker is None or broker.state != State.RUNNING or self.broker_rpc is None:
                raise RpcError("the broker is not running", UNAVAILABLE)
            return await self.broker_rpc.call("reload", ROUTES_TIMEOUT_S,
                                              instances=self.instance_table())
        except RpcError as exc:
            if exc.code != UNAVAILABLE:
                raise
            raise RpcError(f"instances applied, but the broker did not take the new routes "
                           f"({exc}); it keeps the last good routes", UNAVAILABLE) from None

    async def _reload_historian(self) -> None:
        """Changed ``history`` settings: the historian restarts with them (or stops)."""
        async with self.lock(HISTORIAN_ID):
            old = self.instances.pop(HISTORIAN_ID, None)
            if old is not None:
                await self.stop_instance(old, "history settings changed")
            if history_enabled(self.settings.history, self.performance):
                inst = self._make(self._system_config(HISTORIAN_ID, "historian"))
                self.instances[HISTORIAN_ID] = inst
                inst.start("history settings changed")
                await self.wait_for(inst, lambda i: i.state != State.STARTING,
                                    inst.READY_TIMEOUT_S)

    async def _retire(self, inst: Instance) -> None:
        async with self.lock(inst.id):
            await self.stop_instance(inst, "removed by reload")
            self.instances.pop(inst.id, None)
            if self.kernel is not None:
                self.kernel.remove(inst.id)

    async def _replace(self, inst: Instance, cfg: InstanceConfig) -> None:
        async with self.lock(inst.id):
            was_alive = inst.alive
            await self.stop_instance(inst, "changed by reload")
            fresh = self.instances[inst.id] = self._make(cfg)
            fresh.restarts = inst.restarts
            fresh.frozen = self.mode == "panic"
            if cfg.enabled and self.mode == "normal" and (was_alive or not inst.cfg.enabled):
                fresh.start("changed by reload")

    async def stop_instance(self, inst: Instance, reason: str,
                            target: State = State.STOPPED) -> None:
        inst.stop(reason, target)
        timeout = inst.cfg.limit("stop_timeout_s", 5.0) + 5.0
        await self.wait_for(inst, lambda i: i.state not in ALIVE, timeout)

    async def shutdown(self) -> None:
        """Stop in reverse order: jobs, admin UI, workers (in parallel), then the broker and the
        historian (it records the workers' last values)."""
        if self._jobs is not None:
            await self._jobs.close()
        for inst in self.instances.values():
            inst.frozen = True
        order = [[self.instances[UI_ID]] if UI_ID in self.instances else [],
                 self.workers(),
                 [self.instances[r] for r in self.links if r in self.instances],
                 [self.instances[i] for i in (HISTORIAN_ID, BROKER_ID) if i in self.instances]]
        for group in order:
            await asyncio.gather(*(self.stop_instance(i, "daemon stop") for i in group))

    def panic_record(self) -> dict[str, Any] | None:
        """In panic: who triggered it, when (``since``, ms) and why, as persisted in
        state.json, so status shows it after any restart; None in normal mode."""
        if self.mode != "panic":
            return None
        try:
            doc = json.loads((self.paths.data / STATE_FILE).read_text())
        except (OSError, ValueError) as exc:
            return {"who": None, "since": None, "why": f"unknown: {STATE_FILE}: {exc}"}
        doc = doc if isinstance(doc, dict) else {}
        return {"who": doc.get("who"), "since": doc.get("since"), "why": doc.get("why")}

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.broker_rpc is not None:
            self.broker_rpc.close()
        if self.channel is not None:
            self.sys.unwatch_fd(self.channel.getsockopt(zmq.FD))
            self.channel.close(0)
        if self.beats is not None:
            self.beats.close()
        steady_beats.remove_dir(self.paths.run)
        if getattr(self, "feed", None) is not None:
            self.feed.close()
        self.ctx.term()
        if self.kernel is not None:
            self.kernel.close()
        self.logbook.close()
        self.errors.close()
        self.sentry.close()
