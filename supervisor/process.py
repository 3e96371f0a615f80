"""One supervised instance and its explicit state machine.

Every transition happens in one of the public methods (commands) or in the ``_on_*``
callbacks (events from the OS or the worker), all synchronous and driven through the
:class:`~edgeos.supervisor.seam.System` seam, so unit tests can play any sequence of events
with a fake clock.

    stopped --start--> starting --READY--> running <--> disconnected (cut from router)
    starting/running --stop--> stopping --exit--> stopped | suspended_by_spam
    running --exit (crash)--> backoff --timer--> starting    (or error when flapping)
    running --kill / watchdog--> (SIGKILL) --exit--> killed --> backoff/starting
"""

from __future__ import annotations

import enum
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgeos.supervisor.policy import RestartPolicy
from edgeos.supervisor.seam import Spawned, System, Timer

log = logging.getLogger(__name__)


class State(enum.StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    BACKOFF = "backoff"
    ERROR = "error"
    KILLED = "killed"
    SUSPENDED_BY_SPAM = "suspended_by_spam"
    DISCONNECTED = "disconnected"


ALIVE = frozenset({State.STARTING, State.RUNNING, State.STOPPING, State.DISCONNECTED})
"""States in which a process exists."""


@dataclass
class InstanceConfig:
    """One entry of connections.json after validation, with limits filled in."""

    id: str
    type: str
    name: str = ""
    enabled: bool = True
    config: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)
    critical: bool = False
    failsafe: dict[str, Any] = field(default_factory=dict)
    role: str = "worker"  # "worker", or "broker"/"admin-ui" for the system processes
    mirror: bool = False  # HA: runs on a standby core too, its outputs held back there

    def limit(self, key: str, default: float) -> float:
        value = self.limits.get(key)
        return default if value is None else float(value)


Launcher = Callable[["Instance"], tuple[list[str], dict[str, str], bytes]]
ChangeListener = Callable[["Instance", State, State, str], None]


class Instance:
    """A configured instance, its process (if any) and its lifecycle."""

    READY_TIMEOUT_S = 30.0
    MISSED_HEARTBEATS = 3

    def __init__(self, cfg: InstanceConfig, system: System, launcher: Launcher,
                 on_change: ChangeListener, on_output: Callable[[Instance, Spawned], None],
                 policy: RestartPolicy | None = None) -> None:
        self.cfg = cfg
        self.sys = system
        self._launch = launcher
        self._on_change = on_change
        self._on_output = on_output
        self.policy = policy or RestartPolicy.from_config()
        self.state = State.STOPPED
        self.pid: int | None = None
        self.started_at: float | None = None
        self.last_heartbeat: float | None = None
        self.restarts = 0
        self.exit_code: int | None = None
        self.error_count = 0
        self.last_error: str | None = None
        self.counters: dict[str, Any] = {}  # the last heartbeat's, replaced by each
        self.spam_pps: float | None = None  # the rate the spam guard suspended it at
        self.cut = False  # disconnected from the router by an admin
        self.frozen = False  # panic: no spawns, no restarts
        self.reason = ""
        self._intent: str | None = None  # "stop" or "kill" while we end the process
        self._stop_target = State.STOPPED
        self._restart_after_kill = True
        self._timers: dict[str, Timer] = {}
        # asked when the process dies unasked: a cause (e.g. the kernel's OOM kill) or None
        self.explain_exit: Callable[[Instance, int, int], str | None] | None = None
        # called first when the process has exited: reads what it sent before (its last
        # ERROR), so that counts before the exit changes the state
        self.last_words: Callable[[], None] | None = None

    @property
    def id(self) -> str:
        return self.cfg.id

    @property
    def alive(self) -> bool:
        return self.state in ALIVE

    # -- commands --------------------------------------------------------------------
    def start(self, reason: str = "start requested") -> None:
        """Spawn the process unless it is already alive; resets the crash history."""
        if self.alive or self.frozen:
            return
        self.policy.reset()
        self._spawn(reason)

    def stop(self, reason: str = "stop requested", target: State = State.STOPPED) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout_s``; ends in ``target``."""
        self._stop_target = target
        if self.state in (State.BACKOFF, State.KILLED, State.ERROR, State.STOPPED,
                          State.SUSPENDED_BY_SPAM):
            self._cancel("restart")
            self._set(target, reason)
            return
        if self.state == State.STOPPING or self.pid is None:
            return
        self._intent = "stop"
        self._set(State.STOPPING, reason)
        self.sys.kill_tree(self.pid, signal.SIGTERM)
        timeout = self.cfg.limit("stop_timeout_s", 5.0)
        self._timer("kill", timeout, lambda: self._escalate(timeout))

    def kill(self, reason: str = "kill requested", restart: bool = True) -> None:
        """SIGKILL the whole process tree at once, no grace; restart if ``restart``."""
        if self.pid is None:
            return
        if self._intent != "stop":
            self._intent = "kill"
        self._restart_after_kill = restart
        self.reason = reason
        log.warning("%s: SIGKILL (%s)", self.id, reason)
        self.sys.kill_tree(self.pid, signal.SIGKILL)

    def set_cut(self, cut: bool) -> None:
        """Mark the instance as cut from (or back on) the router."""
        self.cut = cut
        if self.state == State.RUNNING and cut:
            self._set(State.DISCONNECTED, "disconnected from the router")
        elif self.state == State.DISCONNECTED and not cut:
            self._set(State.RUNNING, "reconnected to the router")

    # -- events ----------------------------------------------------------------------
    def on_ready(self, pid: int) -> None:
        if pid != self.pid or self.state != State.STARTING:
            return
        self._cancel("ready")
        self.last_heartbeat = self.sys.monotonic()
        self._apply_priorities(pid, ("nice",))
        self._set(State.DISCONNECTED if self.cut else State.RUNNING, "ready")

    def on_heartbeat(self, counters: dict[str, Any], sent: float | None = None) -> None:
        """A beat, heard now or (a steady one, read at the pass) ``sent`` at that
        monotonic time: the watchdog counts from when it was sent, never from the future
        nor back before a beat it already counted (or a forgiven stall); the counters of
        a beat older than that (a news beat overtook it) are not the latest."""
        if self.pid is None:
            return
        now = self.sys.monotonic()
        if sent is not None:
            sent = min(sent, now)
            if self.last_heartbeat is not None and sent < self.last_heartbeat:
                return
        self.last_heartbeat = now if sent is None else sent
        self.counters = counters

    def on_error(self, message: str) -> None:
        self.error_count += 1
        self.last_error = message

    def _on_exit(self, pid: int, code: int) -> None:
        if pid != self.pid:
            return
        if self.last_words is not None:
            self.last_words()
        for name in ("kill", "ready"):
            self._cancel(name)
        uptime = self.sys.monotonic() - (self.started_at or self.sys.monotonic())
        self.pid = None
        self.exit_code = code
        intent, self._intent = self._intent, None
        if intent is None and self.explain_exit is not None:
            why = self.explain_exit(self, pid, code)
            if why is not None:
                intent, self.reason, self._restart_after_kill = "kill", why, True
        if intent == "stop":
            self._set(self._stop_target, f"exited with {code} after stop")
            return
        if intent == "kill":
            self._set(State.KILLED, self.reason or "killed")
            if self._restart_after_kill:
                self._schedule_restart(uptime, "restart after kill")
            return
        self.on_error(f"exited unexpectedly with code {code} after {uptime:.1f} s")
        self._schedule_restart(uptime, f"crashed (exit {code})")

    # -- internals -------------------------------------------------------------------
    def _spawn(self, reason: str) -> None:
        self._cancel("restart")
        argv, env, stdin = self._launch(self)
        self._intent = None
        self._set(State.STARTING, reason)
        try:
            spawned = self.sys.spawn(argv, env, stdin, self._on_exit)
        except OSError as exc:  # (EAGAIN, ENOMEM, EMFILE): a crash of this one instance
            self.on_error(f"could not start: {exc.strerror or exc}")
            self._schedule_restart(0.0, f"spawn failed ({exc.strerror or exc})")
            return
        self.pid = spawned.pid
        self.started_at = self.sys.monotonic()
        self.last_heartbeat = None
        self._on_output(self, spawned)
        self._apply_priorities(spawned.pid, ("ionice", "cpu_affinity"))
        self._timer("ready", self.READY_TIMEOUT_S,
                    lambda: self.kill("did not report ready in time"))

    def _apply_priorities(self, pid: int, keys: tuple[str, ...]) -> None:
        """``keys`` of nice, ionice and CPU affinity from the limits; a failure is an
        error, not fatal. ionice and affinity apply from the spawn; nice once the process
        is ready: a (re)start is a short burst at the supervisor's priority, so on a
        busy host a worker at nice 5 does not wait for CPU to come back up."""
        limits = self.cfg.limits
        calls = (("nice", self.sys.setpriority, int), ("ionice", self.sys.set_ionice, int),
                 ("cpu_affinity", self.sys.set_affinity, list))
        for key, call, conv in calls:
            value = limits.get(key)
            if value is None or key not in keys:
                continue
            try:
                call(pid, conv(value))
            except Exception as exc:  # OSError, or psutil's own error types
                self.on_error(f"{key}={value} could not be applied: {exc}")

    def _schedule_restart(self, uptime: float, reason: str) -> None:
        if self.frozen:
            self._set(State.STOPPED, f"{reason}; restarts frozen (panic)")
            return
        delay = self.policy.on_crash(self.sys.monotonic(), uptime, self.sys.jitter())
        if delay is None:
            self._set(State.ERROR, f"{reason}; gave up after repeated fast crashes")
            return
        self.restarts += 1
        if delay <= 0:
            self._spawn(reason)
            return
        self._set(State.BACKOFF, f"{reason}; restart in {delay:.1f} s")
        self._timer("restart", delay, lambda: self._spawn("restart after back-off"))

    def _escalate(self, timeout: float) -> None:
        if self.pid is not None:
            log.warning("%s: did not stop within %.1f s, SIGKILL", self.id, timeout)
            self.on_error(f"did not stop within {timeout:g} s; killed")
            self.sys.kill_tree(self.pid, signal.SIGKILL)

    def check_heartbeat(self) -> None:
        """The watchdog: a running process that sent no heartbeat for
        ``MISSED_HEARTBEATS`` x ``heartbeat_s`` is hung and killed (then restarted).
        Called for every instance by one timer (the arbiter's stats pass, which runs
        by the first deadline), not a timer per instance, so idle children cost the
        supervisor no wake-ups of their own; a hang is therefore caught within a
        second of its deadline."""
        if self.state not in (State.RUNNING, State.DISCONNECTED) or self.pid is None or \
                self.last_heartbeat is None or self._intent is not None:
            return
        deadline = self.cfg.limit("heartbeat_s", 5.0) * self.MISSED_HEARTBEATS
        age = self.sys.monotonic() - self.last_heartbeat
        if age >= deadline:
            self.on_error(f"no heartbeat for {age:.1f} s (limit {deadline:g} s): hung")
            self.kill(f"watchdog: no heartbeat for {age:.1f} s")

    def _timer(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        self._cancel(name)

        def fire() -> None:
            self._timers.pop(name, None)
            callback()

        self._timers[name] = self.sys.call_later(delay, fire)

    def _cancel(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def _set(self, new: State, reason: str) -> None:
        old, self.state, self.reason = self.state, new, reason
        if old != new:
            log.info("%s: %s -> %s (%s)", self.id, old, new, reason)
            self._on_change(self, old, new, reason)
