"""A core and a satellite: two real ``edgeos`` daemons with their own dirs, joined by a
real CURVE link on loopback (through a :class:`Relay` that can cut it), and a
subscriber that records what reaches the core's broker."""

from __future__ import annotations

import itertools
import random
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import zmq
from edgeos.ipc import addresses, protocol

from tests.integration.daemon import Daemon, sim
from tests.integration.satellite.relay import Relay


def free_endpoint() -> tuple[str, int]:
    """A random 127.0.0.x address with a free port (parallel tests never collide)."""
    host = f"127.0.0.{random.randint(2, 250)}"
    with socket.socket() as probe:
        probe.bind((host, 0))
        return host, probe.getsockname()[1]


def counter(iid: str = "c1", rate_hz: float = 500) -> dict[str, Any]:
    return sim(iid, "counter", rate_hz, limits={"max_pps": 20_000})


class Recorder:
    """Every datapoint the core's broker publishes under ``prefix``, in arrival order:
    ``(address, value, quality, ts, arrived)`` (both in ms of the same wall clock)."""

    def __init__(self, run_dir: Any, prefix: str) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.RCVHWM, 0)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        self.sock.connect(addresses.endpoint(run_dir, addresses.CHANGES))
        self.items: list[tuple[str, Any, str, int, float]] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.sock.poll(100):
                continue
            topic, body, *_ = self.sock.recv_multipart()
            arrived = time.time() * 1000
            for item in protocol.unpack(body):
                self.items.append((topic.decode() + item[0], item[1], item[3], item[2],
                                   arrived))

    def seqs(self, address: str) -> list[int]:
        """The good values of ``address`` (a counter's ``seq``), in arrival order."""
        return [i[1] for i in list(self.items) if i[0] == address and i[2] == "good"]

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.sock.close()
        self.ctx.term()


def assert_exactly_once(seqs: list[int]) -> None:
    """1, 2, 3, ...: no gap (lost), no repeat (doubled), in order."""
    assert seqs, "nothing arrived"
    assert seqs[0] == 1, f"starts at {seqs[0]}"
    bad = [(i, a, b) for i, (a, b) in enumerate(itertools.pairwise(seqs))
           if b != a + 1]
    assert not bad, f"{len(bad)} breaks in the sequence, first: {bad[:5]} of {len(seqs)}"


@dataclass
class Pair:
    core: Daemon
    sat: Daemon
    relay: Relay
    core_key: str
    sat_key: str
    listen: tuple[str, int]

    def trust(self, sat_id: str = "sat1") -> None:
        done = self.core.ctl("satellites", "trust", "--id", sat_id, "--", self.sat_key)
        assert done.returncode == 0, done.stderr

    def sat_link(self) -> dict[str, Any]:
        return self.sat.ctl_json("satellites")[0]

    def core_row(self, sat_id: str = "sat1") -> dict[str, Any] | None:
        rows = [r for r in self.core.ctl_json("satellites") if r["id"] == sat_id
                and r["state"] != "pending"]
        return rows[0] if rows else None


def make_pair(factory: Any, connections: list[dict[str, Any]], sat_id: str = "sat1",
              core_key: str | None = None) -> Pair:
    """Start a core listening on 127.0.0.x and a satellite reaching it through a relay
    (not yet trusted: until :meth:`Pair.trust` the core takes nothing from it)."""
    listen = free_endpoint()
    core = factory([], extra_args=["--satellite-listen", f"{listen[0]}:{listen[1]}"]).start()
    key = core.ctl_json("node-key")["key"]
    relay = Relay(*listen)
    sat = factory(connections, extra_args=[
        "--satellite", "--satellite-id", sat_id, "--core-host", f"127.0.0.1:{relay.port}",
        f"--core-key={core_key or key}"]).start()
    sat_key = sat.ctl_json("node-key")["key"]
    return Pair(core, sat, relay, key, sat_key, listen)
