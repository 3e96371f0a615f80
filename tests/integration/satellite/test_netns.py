"""Two hosts: core and satellite in two network namespaces joined by a veth pair with
link-local addresses, so "cut the cable" is ``ip link set ... down`` (CONTRACT 8).

Skipped with the reason where namespaces cannot be made (not root, no ``ip``); the
namespaces and the veth pair are always removed afterwards."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.integration.satellite.support import Recorder, assert_exactly_once, counter

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]  # several daemons each

CUT_S = 6


def ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    argv = ["ip", *(["netns", "exec", ns, "ip"] if ns else []), *args]
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=10)


@pytest.fixture
def hosts() -> Iterator[tuple[str, str, str, str]]:
    """(core ns, satellite ns, core address, satellite-side veth) on 169.254.N.0/30."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2")
    tag = f"{os.getpid() % 10000}{random.randint(0, 99)}"
    core_ns, sat_ns = f"eo-core-{tag}", f"eo-sat-{tag}"
    veth_c, veth_s = f"eoc{tag}", f"eos{tag}"
    net = random.randint(1, 254)
    made: list[str] = []
    try:
        for ns in (core_ns, sat_ns):
            probe = ip("netns", "add", ns, check=False)
            if probe.returncode != 0:
                pytest.skip(f"cannot make a network namespace: {probe.stderr.strip()}")
            made.append(ns)
        ip("link", "add", veth_c, "netns", core_ns, "type", "veth", "peer", "name", veth_s,
           "netns", sat_ns)
        for ns, dev, addr in ((core_ns, veth_c, 1), (sat_ns, veth_s, 2)):
            ip("addr", "add", f"169.254.{net}.{addr}/30", "dev", dev, ns=ns)
            ip("link", "set", dev, "up", ns=ns)
            ip("link", "set", "lo", "up", ns=ns)
        yield core_ns, sat_ns, f"169.254.{net}.1", veth_s
    finally:
        for ns in made:  # deleting a namespace removes its end of the veth pair
            ip("netns", "del", ns, check=False)


def test_cable_cut_between_two_namespaces(hosts, daemon_factory) -> None:
    # (hosts first: its teardown runs after the daemons are gone)
    core_ns, sat_ns, core_addr, veth_s = hosts
    core = daemon_factory([], extra_args=["--satellite-listen", f"{core_addr}:50051"])
    core.command = ["ip", "netns", "exec", core_ns, *core.command]
    core.start()
    key = core.ctl_json("node-key")["key"]
    sat = daemon_factory([counter()], extra_args=[
        "--satellite", "--satellite-id", "sat1", "--core-host", core_addr,
        f"--core-key={key}"])
    sat.command = ["ip", "netns", "exec", sat_ns, *sat.command]
    sat.start()
    rec = Recorder(core.run, "sat1.")
    try:
        sat_key = sat.ctl_json("node-key")["key"]
        assert core.ctl("satellites", "trust", "--id", "sat1", "--", sat_key).returncode == 0
        core.wait_for(lambda: len(rec.seqs("sat1.c1.seq")) > 1000, 20, "live values")
        ip("link", "set", veth_s, "down", ns=sat_ns)  # the cable is pulled
        core.wait_for(lambda: core.ctl_json("satellites")[0]["state"] == "offline", 10,
                      "core: offline")
        sat.wait_for(lambda: sat.ctl_json("satellites")[0]["state"] == "offline", 10,
                     "satellite: offline")
        time.sleep(CUT_S)
        ip("link", "set", veth_s, "up", ns=sat_ns)
        target = sat.ctl_json("satellites")[0]["last_seq"]
        core.wait_for(lambda: core.ctl_json("satellites")[0]["acked"] >= target, 30,
                      "backlog delivered")
        assert_exactly_once(rec.seqs("sat1.c1.seq"))
        assert core.ctl_json("satellites")[0]["address"] == f"{core_addr[:-1]}2"
    finally:
        rec.close()
