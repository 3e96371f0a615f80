"""What every child of the supervisor shares: bootstrap and the link back to it.

The supervisor starts each child with its instance spec as JSON on stdin (secrets
never show in ``ps`` or the environment), titles it, and expects it to say HELLO,
then READY, then a HEARTBEAT at least every ``heartbeat_s`` from its event loop, so
a blocked loop reads as hung even while the process exists (and sooner when its
rates move: ipc/heartbeat.py).
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import zmq
import zmq.asyncio
from edgeos.ipc import addresses, protocol
from edgeos.ipc.heartbeat import BeatRule
from edgeos.ipc.steady_beats import BeatWriter

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


@dataclass
class InstanceSpec:
    """Everything a child needs to know about itself."""

    id: str
    type: str
    name: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)
    run_dir: str = "."
    data_dir: str = "."
    config_dir: str = "."
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def heartbeat_interval(self) -> float:
        """Seconds between heartbeats: 1 Hz for live stats, faster for short watchdogs."""
        return min(1.0, float(self.limits.get("heartbeat_s", 5)) / 3)


def read_spec() -> InstanceSpec:
    """Read the spec the supervisor wrote to our stdin."""
    raw = sys.stdin.read()
    sys.stdin.close()
    data = json.loads(raw)
    return InstanceSpec(**data)


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL us when the supervisor dies, and exit if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the supervisor's own cleanup still applies
        return
    expected = os.environ.get("EDGEOS_SUPERVISOR_PID")
    if expected and os.getppid() != int(expected):
        os._exit(0)


def set_title(title: str) -> None:
    """Show up in ``ps`` as ``edgeos: ...`` (CONTRACT section 3)."""
    try:
        import setproctitle

        setproctitle.setproctitle(title)
    except ImportError:  # pragma: no cover - declared dependency
        pass


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr, which the supervisor captures; the level leads each line."""
    logging.basicConfig(stream=sys.stderr, level=level,
                        format="%(levelname)s %(name)s: %(message)s", force=True)


def start_child(title: str) -> InstanceSpec:
    """What every ``python -m edgeos...`` child does first: die with the supervisor,
    read its spec from stdin, name itself ``title`` in ``ps``, log at the spec's level."""
    die_with_parent()
    spec = read_spec()
    set_title(title)
    setup_logging(spec.extra.get("log_level", "INFO"))
    return spec


async def stop_signalled() -> None:
    """Return when SIGTERM or SIGINT arrives: how a service child waits out its life."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
def next_beat(now: float, interval: float, phase: float = 0.0) -> float:
    """Seconds from ``now`` to the next instant ``phase`` past a whole multiple of
    ``interval`` on the monotonic clock (shared by all processes of the host), so
    periodic work in several processes lines up and wakes the machine once."""
    return interval - (now - phase) % interval


def next_look(now: float, interval: float) -> float:
    """:func:`next_beat`, but at least half an interval away. After a late look (the
    child's loop stalled) the next instant of the grid may be a hair away, and counters
    looked at over so short a window measure no rate: one answer to a request sent
    before it and no request made a Modbus worker report 0 requests/s, and two such
    looks in a row pass :class:`~edgeos.ipc.heartbeat.BeatRule`'s jitter filter."""
    delay = next_beat(now, interval)
    return delay if delay >= interval / 2 else delay + interval


class SupervisorLink:
    """The DEALER socket to the supervisor: hello, ready, heartbeats, errors, events."""

    def __init__(self, ctx: zmq.asyncio.Context, spec: InstanceSpec) -> None:
        self.spec = spec
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.IDENTITY, spec.id.encode())
        self.sock.setsockopt(zmq.LINGER, 500)
        self.sock.setsockopt(zmq.SNDHWM, 100)
        self.sock.connect(addresses.endpoint(spec.run_dir, addresses.SUPERVISOR))
        # steady beats (proof of life, nothing moved) go to a file the supervisor reads
        # at its pass instead of waking for each (ipc/steady_beats.py)
        self.beats = BeatWriter(spec.run_dir, spec.id)

    def _send(self, kind: bytes, body: Any) -> None:
        # Never block the event loop on the supervisor; a full queue means it is gone.
        fut = self.sock.send_multipart([kind, protocol.pack(body)], flags=zmq.DONTWAIT)
        if fut.done():
            fut.exception()  # mark seen; Again only means the supervisor is not reading now

    def hello(self) -> None:
        self._send(protocol.HELLO, {"pid": os.getpid(), "type": self.spec.type})

    def ready(self) -> None:
        self._send(protocol.READY, {"pid": os.getpid()})

    def heartbeat(self, counters: dict[str, Any], steady: bool = False) -> None:
        """Send ``counters``; a ``steady`` beat (nothing moved) to the beats file with its
        send time (monotonic, the clock every process shares), which the watchdog counts
        as the beat's time however late the supervisor reads it."""
        if not steady or not self.beats.write(counters, time.monotonic()):
            self._send(protocol.HEARTBEAT, counters)

    def event(self, kind: str, **data: Any) -> None:
        self._send(protocol.EVENT, {"kind": kind, **data})

    def error(self, exc: BaseException, *, fatal: bool, where: str = "") -> None:
        tb = "".join(traceback.format_exception(exc))
        self._send(protocol.ERROR, {"message": f"{type(exc).__name__}: {exc}",
                                    "traceback": tb, "fatal": fatal, "where": where,
                                    "ts": protocol.now_ms()})

    def report_loop_errors(self, where: str) -> None:
        """An exception no task retrieved (the running loop's handler) is logged with its
        traceback and reported to the supervisor's error store."""
        def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            exc = context.get("exception")
            log.error("%s", context.get("message"), exc_info=exc)
            if exc is not None:
                self.error(exc, fatal=False, where=where)

        asyncio.get_running_loop().set_exception_handler(handler)

    async def heartbeat_loop(self, counters: Any, interval: float | None = None,
                             ride_along: frozenset[str] = frozenset()) -> None:
        """Look at ``counters()`` at the heartbeat interval, from the event loop itself,
        and send them when :class:`~edgeos.ipc.heartbeat.BeatRule` says so: at once
        when a headline figure moved, else once per ``heartbeat_s``.

        The beats fall on whole multiples of the interval of the monotonic clock, which
        every process on the host shares: all children's heartbeats reach the
        supervisor together, and it wakes once per interval for all of them rather than
        once per child (see :func:`next_beat`). ``interval`` (default: the spec's)
        is how often to look: a child without rates to show looks once per
        ``heartbeat_s`` and so wakes no more often than it beats. ``ride_along``: the
        child's own totals (keys at any depth) that never cause a beat."""
        interval = interval or self.spec.heartbeat_interval
        rule = BeatRule(interval, float(self.spec.limits.get("heartbeat_s", 5)), ride_along)
        while True:
            beat = rule.beat(time.monotonic(), counters())  # a moved rate, or the period's
            if beat is not None:
                self.heartbeat(beat, rule.steady)
            await asyncio.sleep(next_look(time.monotonic(), interval))

    def close(self, linger: int | None = None) -> None:
        self.sock.close(linger)
