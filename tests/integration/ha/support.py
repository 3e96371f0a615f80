"""Two real cores (a primary and its standby) on 127.0.15.x, each with its own CURVE
satellite listener, joined by the HA mirror link; helpers to wait on ``edgectl ha``."""

from __future__ import annotations

import json
import os
import random
import socket
from dataclasses import dataclass
from typing import Any

import zmq
from edgeos.ipc.changes import MIRRORED

from tests.integration.daemon import Daemon
from tests.integration.satellite.support import Recorder

#: this suite's hosts and ports (the key service takes port + 1); EDGEOS_TEST_HA_NET
#: (``127.0.23:43000-43999``) moves them, so parallel runs do not meet
_NET, _, _RANGE = os.environ.get("EDGEOS_TEST_HA_NET", "127.0.15:46000-46999").partition(":")
PORTS = range(int(_RANGE.split("-")[0]), int(_RANGE.split("-")[1]), 2)


def free_listen() -> str:
    """A free HOST:PORT on 127.0.15.x whose key-service port (+1) is free too."""
    for _ in range(200):
        host, port = f"{_NET}.{random.randint(2, 250)}", random.choice(PORTS)
        try:
            for p in (port, port + 1):
                with socket.socket() as probe:
                    probe.bind((host, p))
        except OSError:
            continue
        return f"{host}:{port}"
    raise RuntimeError(f"no free port in {_NET}.x:{PORTS.start}-{PORTS.stop}")


@dataclass
class Cores:
    primary: Daemon
    standby: Daemon
    primary_listen: str
    standby_listen: str
    primary_key: str
    standby_key: str

    def ha(self, d: Daemon) -> dict[str, Any]:
        return d.ctl_json("ha")

    def trust(self) -> None:
        done = self.primary.ctl("ha", "trust", "--", self.standby_key)
        assert done.returncode == 0, done.stderr
        self.standby.wait_for(lambda: self.ha(self.standby)["state"] == "mirroring", 20,
                              "standby mirroring")

    def satellite(self, factory: Any, connections: list[dict[str, Any]], sat_id: str = "sat1",
                  primary_via: str | None = None) -> Daemon:
        """A satellite that knows both cores (primary first), trusted on the primary
        (the trust store reaches the standby by the mirror)."""
        sat = factory(connections, extra_args=[
            "--satellite", "--satellite-id", sat_id,
            "--core-host", f"{primary_via or self.primary_listen},{self.standby_listen}",
            f"--core-key={self.primary_key},{self.standby_key}"]).start()
        key = sat.ctl_json("node-key")["key"]
        done = self.primary.ctl("satellites", "trust", "--id", sat_id, "--", key)
        assert done.returncode == 0, done.stderr
        self.standby.wait_for(lambda: any(r["id"] == sat_id and r["state"] != "pending"
                                          for r in self.standby.ctl_json("satellites")),
                              20, "satellite trusted on the standby too")
        return sat

    def config(self, d: Daemon, name: str) -> Any:
        path = d.config / name
        return json.loads(path.read_text()) if path.exists() else None


def make_cores(factory: Any, connections: list[dict[str, Any]],
               routes: list[dict[str, Any]] | None = None,
               settings: dict[str, Any] | None = None, trust: bool = True,
               via: Any = None) -> Cores:
    """A primary with ``connections`` and a standby of it (empty config: it mirrors);
    ``via(primary_listen) -> HOST:PORT`` puts something (a relay) on the standby's path."""
    p_listen, s_listen = free_listen(), free_listen()
    primary = factory(connections, routes=routes, settings=settings,
                      extra_args=["--satellite-listen", p_listen]).start()
    p_key = primary.ctl_json("node-key")["key"]
    standby = factory([], extra_args=["--satellite-listen", s_listen, "--standby-of",
                                      via(p_listen) if via else p_listen,
                                      f"--primary-key={p_key}"]).start()
    s_key = standby.ctl_json("node-key")["key"]
    cores = Cores(primary, standby, p_listen, s_listen, p_key, s_key)
    if trust:
        cores.trust()
    return cores


class CoreRecord(Recorder):
    """A core's record of ``prefix``: what its broker published as its own and, while it
    was a standby, as mirrored (``~``): the figure failover is judged by (issue 15).
    :meth:`mark` starts a new life (the core restarted: its record starts over)."""

    def __init__(self, run_dir: Any, prefix: str) -> None:
        super().__init__(run_dir, prefix)
        self.sock.setsockopt(zmq.SUBSCRIBE, (MIRRORED + prefix).encode())
        self.marks: list[int] = [0]

    def mark(self) -> None:
        self.marks.append(len(self.items))

    def seqs(self, address: str, life: int | None = None, mirrored: bool | None = None
             ) -> list[int]:
        """The good values of ``address`` in arrival order, own and mirrored (or only
        one kind); ``life``: only those of that life (-1: the current one)."""
        items = list(self.items)
        if life is not None:
            ends = [*self.marks, len(items)]
            life = life % len(self.marks)
            items = items[ends[life]:ends[life + 1]]
        return [i[1] for i in items if i[2] == "good" and (
            (mirrored is not True and i[0] == address)
            or (mirrored is not False and i[0] == MIRRORED + address))]
