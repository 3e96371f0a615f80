"""mDNS discovery (CONTRACT section 8): a satellite started without ``--core-host``
finds its core over real multicast DNS and delivers data, on loopback and across two
network namespaces; it picks the core whose key it pinned, never a decoy announced
beside it (a real mDNS announcement with another key's fingerprint, at a port where
nothing listens); on first use it pins the key of the core it found."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import zmq
from edgeos.ipc.satellite import keys, mdns
from zeroconf import IPVersion, ServiceInfo, Zeroconf

from tests.integration.satellite.support import Recorder, assert_exactly_once, counter
from tests.integration.satellite.test_netns import hosts  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]  # several daemons each

FIND_S = 10  # the promise: found and connected within 10 s


def _loopback() -> tuple[str, int]:
    """A 127.0.16.x address and a port of this helper's range."""
    return f"127.0.16.{random.randint(2, 250)}", random.randint(47000, 47899)


def _core(factory, addr: str, port: int):
    core = factory([], extra_args=["--satellite-listen", f"{addr}:{port}"]).start()
    return core, core.ctl_json("node-key")["key"]


def _pending(core, sat_id: str) -> bool:
    return any(r["state"] == "pending" and r["id"] == sat_id
               for r in core.ctl_json("satellites"))


def _found_and_delivers(core, sat, started: float) -> Recorder:
    """The satellite reached the core (pending there) within FIND_S of its start; once
    trusted, its counter arrives exactly once and in order."""
    core.wait_for(lambda: _pending(core, "sat1"), FIND_S - (time.monotonic() - started),
                  "satellite found the core (pending there)")
    rec = Recorder(core.run, "sat1.")
    sat_key = sat.ctl_json("node-key")["key"]
    assert core.ctl("satellites", "trust", "--pending", "sat1").returncode == 0
    core.wait_for(lambda: len(rec.seqs("sat1.c1.seq")) > 200, 15, "live values")
    assert core.ctl_json("satellites")[0]["key"] == sat_key
    return rec


@contextmanager
def decoy_core(addr: str, port: int) -> Iterator[None]:
    """Another core's announcement (a different key) on loopback, while the test runs."""
    zc = Zeroconf(interfaces=[addr], ip_version=IPVersion.V4Only)
    info = ServiceInfo(mdns.SERVICE, f"decoy-{port}.{mdns.SERVICE}", port=port,
                       properties={"version": "1", "id": "decoy",
                                   "fp": keys.fingerprint(zmq.curve_keypair()[0])},
                       server=f"decoy-{port}.local.", parsed_addresses=[addr])
    zc.register_service(info)
    try:
        yield
    finally:
        zc.unregister_service(info)
        zc.close()


def test_loopback_discovery_picks_the_pinned_core(daemon_factory) -> None:
    addr, port = _loopback()
    decoy_addr = f"127.0.16.{(int(addr.rsplit('.', 1)[1]) % 249) + 2}"
    core, key = _core(daemon_factory, addr, port)
    with decoy_core(decoy_addr, port + 50):
        sat = daemon_factory([counter(rate_hz=200)], extra_args=[
            "--satellite", "--satellite-id", "sat1", f"--core-key={key}",
            "--mdns", "127.0.16.1"]).start()
        started = time.monotonic()  # its uplink runs: browsing from now on
        rec = _found_and_delivers(core, sat, started)
    try:
        # the satellite's row is its uplink's last heartbeat (at most an interval old)
        sat.wait_for(lambda: sat.ctl_json("satellites")[0]["state"] == "connected", 5,
                     "the satellite says connected")
        assert sat.ctl_json("satellites")[0]["core"] == f"tcp://{addr}:{port}"
        assert_exactly_once(rec.seqs("sat1.c1.seq"))
    finally:
        rec.close()


def test_discovery_across_namespaces_pins_on_first_use(hosts, daemon_factory) -> None:  # noqa: F811
    core_ns, sat_ns, core_addr, _veth_s = hosts
    sat_addr = f"{core_addr[:-1]}2"
    core = daemon_factory([], extra_args=["--satellite-listen", f"{core_addr}:47051"])
    core.command = ["ip", "netns", "exec", core_ns, *core.command]
    core.start()
    key = core.ctl_json("node-key")["key"]
    sat = daemon_factory([counter(rate_hz=200)], extra_args=[
        "--satellite", "--satellite-id", "sat1", "--mdns", sat_addr])  # no key: first use
    sat.command = ["ip", "netns", "exec", sat_ns, *sat.command]
    sat.start()
    started = time.monotonic()
    rec = _found_and_delivers(core, sat, started)
    try:
        assert (sat.data / "keys" / "core.pub").read_text().strip() == key
        assert sat.ctl_json("satellites")[0]["core"] == f"tcp://{core_addr}:47051"
        assert core.ctl_json("satellites")[0]["address"] == sat_addr
        assert_exactly_once(rec.seqs("sat1.c1.seq"))
    finally:
        rec.close()
