"""Issue 15's Show on three hosts: primary, standby and satellite each in a network
namespace, joined pairwise by veth pairs with link-local addresses; each core listens
on a 169.254.x.y address of its own (on its loopback), reached over the link to it.
A partition is ``ip link set ... down``: the cores' link alone does not promote; the
primary's links to everything do.

Skipped with the reason where namespaces cannot be made (not root, no ``ip``); the
namespaces (and with them the veth pairs) are always removed afterwards."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration.daemon import sim
from tests.integration.satellite.support import counter

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]  # several daemons each

PORT = 43100  # each core has a namespace of its own: no other listener there
HOSTS = ("p", "s", "t")  # primary, standby, satellite
LINKS = (("p", "s"), ("p", "t"), ("s", "t"))


def ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    argv = ["ip", *(["netns", "exec", ns, "ip"] if ns else []), *args]
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=10)


@dataclass
class Net:
    ns: dict[str, str]  # host -> namespace
    dev: dict[tuple[str, str], str]  # (host, peer) -> host's end of the veth to the peer
    listen: dict[str, str]  # core -> HOST:PORT

    def cut(self, a: str, b: str) -> None:
        ip("link", "set", self.dev[a, b], "down", ns=self.ns[a])

    def heal(self, a: str, b: str) -> None:
        """The link up again, with the routes to the cores' addresses over it (a link
        going down takes its routes with it)."""
        ip("link", "set", self.dev[a, b], "up", ns=self.ns[a])
        for host, peer in ((a, b), (b, a)):
            if peer in self.listen:
                ip("route", "replace", f"{self.listen[peer].rsplit(':', 1)[0]}/32", "dev",
                   self.dev[host, peer], ns=self.ns[host])


@pytest.fixture
def net() -> Iterator[Net]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2")
    tag = f"{os.getpid() % 10000}{random.randint(0, 99)}"
    n = random.randint(1, 254)
    ns = {h: f"eo-ha-{h}-{tag}" for h in HOSTS}
    dev = {}
    for a, b in LINKS:
        dev[a, b], dev[b, a] = f"e{a}{b}{tag}", f"e{b}{a}{tag}"
    addr = {"p": f"169.254.{n}.101", "s": f"169.254.{n}.102"}  # the cores' own addresses
    made: list[str] = []
    try:
        for name in ns.values():
            probe = ip("netns", "add", name, check=False)
            if probe.returncode != 0:
                pytest.skip(f"cannot make a network namespace: {probe.stderr.strip()}")
            made.append(name)
            ip("link", "set", "lo", "up", ns=name)
        for i, (a, b) in enumerate(LINKS):
            ip("link", "add", dev[a, b], "netns", ns[a], "type", "veth", "peer", "name",
               dev[b, a], "netns", ns[b])
            for host, peer, last in ((a, b, 4 * i + 1), (b, a, 4 * i + 2)):
                ip("addr", "add", f"169.254.{n}.{last}/30", "dev", dev[host, peer], ns=ns[host])
                ip("link", "set", dev[host, peer], "up", ns=ns[host])
        for core, address in addr.items():
            ip("addr", "add", f"{address}/32", "dev", "lo", ns=ns[core])
            for host in HOSTS:  # everyone else reaches it over its own link to that core
                if host != core:
                    ip("route", "add", f"{address}/32", "dev", dev[host, core], ns=ns[host])
        yield Net(ns, dev, {c: f"{a}:{PORT}" for c, a in addr.items()})
    finally:
        for name in made:  # deleting a namespace removes its ends of the veth pairs
            ip("netns", "del", name, check=False)


def start_in(net: Net, d, host: str):
    d.command = ["ip", "netns", "exec", net.ns[host], *d.command]
    return d.start()


def start_pair(net: Net, daemon_factory, instances: list) -> tuple:
    """Primary (with ``instances``, failover_s 3) and its standby, mirroring."""
    p = start_in(net, daemon_factory(instances, settings={"ha": {"failover_s": 3}},
                                     extra_args=["--satellite-listen", net.listen["p"]]), "p")
    p_key = p.ctl_json("node-key")["key"]
    s = start_in(net, daemon_factory([], extra_args=[
        "--satellite-listen", net.listen["s"], "--standby-of", net.listen["p"],
        f"--primary-key={p_key}"]), "s")
    assert p.ctl("ha", "trust", "--", s.ctl_json("node-key")["key"]).returncode == 0
    s.wait_for(lambda: s.ctl_json("ha")["state"] == "mirroring", 30, "standby mirroring")
    return p, s


def start_satellite(net: Net, daemon_factory, p, s):
    """Satellite sat1 (a counter) knowing both cores, trusted on the primary, streaming."""
    p_key, s_key = p.ctl_json("node-key")["key"], s.ctl_json("node-key")["key"]
    sat = start_in(net, daemon_factory([counter("c1", 20)], extra_args=[
        "--satellite", "--satellite-id", "sat1",
        "--core-host", f"{net.listen['p']},{net.listen['s']}",
        f"--core-key={p_key},{s_key}"]), "t")
    assert p.ctl("satellites", "trust", "--id", "sat1", "--",
                 sat.ctl_json("node-key")["key"]).returncode == 0
    p.wait_for(lambda: p.ctl_json("get", "sat1.c1.seq")["value"] > 10, 30, "data flows")
    return sat


def test_partitions_in_namespaces(net, daemon_factory) -> None:
    # (net first: its teardown runs after the daemons are gone)
    p, s = start_pair(net, daemon_factory, [sim("plc1", "plc", 2)])
    start_satellite(net, daemon_factory, p, s)

    net.cut("p", "s")  # the cores lose each other; the satellite still sees the primary
    s.wait_for(lambda: s.ctl_json("ha")["silent_s"] > 10, 30, "standby hears nothing")
    assert s.ctl_json("ha")["role"] == "standby"
    assert p.ctl_json("ha")["role"] == "primary"
    seq = p.ctl_json("get", "sat1.c1.seq")["value"]
    p.wait_for(lambda: p.ctl_json("get", "sat1.c1.seq")["value"] > seq, 5, "still live")
    # not alone (the satellite is with it): it keeps driving its own device
    assert p.instance("plc1")["status"] == "running"
    assert p.ctl_json("ha")["self_fenced"] is None

    net.cut("p", "t")  # now the primary is cut from everything: the satellite votes
    s.wait_for(lambda: s.ctl_json("ha")["role"] == "active", 30, "promotion")
    assert "sat1" in s.ctl_json("ha")["reason"]
    s.wait_for(lambda: s.ctl_json("get", "sat1.c1.seq")["value"] > seq, 20, "data here")
    # the primary cannot know of the promotion yet (fenced by the epoch on return), but
    # alone for failover_s it fences itself: its own device instance stops
    p.wait_for(lambda: p.instance("plc1")["status"] == "stopped", 60, "plc1 self-fenced")
    ha = p.ctl_json("ha")
    assert ha["role"] == "primary" and ha["state"] == "fenced", ha
    assert "alone" in ha["self_fenced"]


def test_primary_cut_from_its_standby_without_satellites_keeps_its_devices(
        net, daemon_factory) -> None:
    """No satellite: nobody can vote for the standby, so it stays standby, and the
    primary, though cut from it, keeps driving its own device (a standby away for an
    update must not stop the PLCs): only a primary that lost every voter fences itself
    (test above)."""
    p, s = start_pair(net, daemon_factory, [sim("plc1", "plc", 2)])
    p.wait_for(lambda: p.instance("plc1")["status"] == "running", 30, "plc1 running")

    net.cut("p", "s")
    # well past the primary noticing the loss (heartbeats) plus failover_s
    s.wait_for(lambda: s.ctl_json("ha")["silent_s"] > 12, 40, "standby hears nothing")
    assert s.ctl_json("ha")["role"] == "standby"  # nobody voted
    ha = p.ctl_json("ha")
    assert ha["role"] == "primary" and ha["self_fenced"] is None, ha
    assert p.instance("plc1")["status"] == "running"


def test_primary_alone_fences_its_own_devices_until_a_voter_is_back(
        net, daemon_factory) -> None:
    """Every link cut (the satellite too is cut from both cores: nobody votes, the standby
    stays standby): the primary, alone for ``failover_s``, holds its own device instance
    stopped; a ``mirror`` instance runs on. The satellite's link back ends the fence."""
    p, s = start_pair(net, daemon_factory,
                      [sim("plc1", "plc", 2), sim("m1", "counter", 2, mirror=True)])
    start_satellite(net, daemon_factory, p, s)
    assert p.instance("plc1")["status"] == "running"

    for a, b in LINKS:
        net.cut(a, b)
    p.wait_for(lambda: p.instance("plc1")["status"] == "stopped", 60, "plc1 fenced")
    ha = p.ctl_json("ha")
    assert ha["role"] == "primary" and ha["state"] == "fenced", ha
    assert "alone" in ha["self_fenced"]
    assert p.instance("m1")["status"] == "running"
    assert s.ctl_json("ha")["role"] == "standby"  # nobody could vote

    net.heal("p", "t")  # a voter is back with the primary: not alone any more
    p.wait_for(lambda: p.instance("plc1")["status"] == "running", 60, "plc1 back")
    assert p.ctl_json("ha")["self_fenced"] is None
    assert s.ctl_json("ha")["role"] == "standby"
