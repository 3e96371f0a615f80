"""Trust on the satellite link (CONTRACT section 8): unknown keys are pending and
nothing of them is taken; trust lets data in; revoke cuts; an id is bound to its key;
a satellite that does not find the core key it pinned sends nothing. Plus commands
from the core reaching a satellite device and its acknowledgement coming back."""

from __future__ import annotations

import time

import pytest
import zmq
from edgeos.ipc import addresses
from edgeos.ipc.rpc import BAD_REQUEST, UNKNOWN_COMMAND, RpcClient, RpcError
from edgeos.ipc.satellite.wire import CTL_SOCK

from tests.integration.satellite.support import counter, free_endpoint, make_pair

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]  # several daemons each


def _no_value(daemon, address: str) -> bool:
    try:
        daemon.call("get", address=address)
    except RpcError:
        return True
    return False


def test_pending_trust_set_and_revoke(daemon_factory) -> None:
    pair = make_pair(daemon_factory, [counter(rate_hz=50)])
    try:
        rows = pair.core.wait_for(
            lambda: [r for r in pair.core.ctl_json("satellites") if r["state"] == "pending"],
            10, "pending key")
        assert rows[0]["id"] == "sat1" and rows[0]["key"] == pair.sat_key
        pair.sat.wait_for(lambda: pair.sat_link()["state"] == "refused", 10, "refused")
        assert "not trusted" in pair.sat_link()["reason"]
        time.sleep(1)
        assert _no_value(pair.core, "sat1.c1.seq")  # nothing of it was accepted
        assert pair.core.call("datapoints", prefix="sat1.")["total"] == 0
        done = pair.core.ctl("satellites", "trust", "--pending", "sat1")
        assert done.returncode == 0, done.stderr
        pair.core.wait_for(lambda: pair.core.ctl_json("get", "sat1.c1.seq")["value"] > 10,
                           10, "data after trust")
        # a command from the core reaches the satellite's device; its ack comes back
        assert pair.core.ctl("set", "sat1.c1.setpoint", "42").returncode == 0
        pair.core.wait_for(lambda: pair.core.ctl_json("get", "sat1.c1.commands_seen")["value"]
                           == 1, 10, "command seen on the satellite")
        echo = pair.core.ctl_json("get", "sat1.c1.setpoint")
        assert echo["value"] == 42 and echo["ack"] is True
        assert pair.sat.ctl_json("get", "c1.setpoint")["value"] == 42
        # revoke: the link is cut and the key refused from then on
        assert pair.core.ctl("satellites", "revoke", "sat1").returncode == 0
        pair.sat.wait_for(lambda: pair.sat_link()["state"] == "refused", 5, "cut by revoke")
        assert pair.core_row()["state"] == "revoked"
        frozen = pair.core.ctl_json("get", "sat1.c1.seq")["value"]
        time.sleep(1.5)
        assert pair.core.ctl_json("get", "sat1.c1.seq")["value"] == frozen
        assert not [r for r in pair.core.ctl_json("satellites") if r["state"] == "pending"]
    finally:
        pair.relay.close()


def test_id_bound_to_key_and_wrong_core_key(daemon_factory) -> None:
    pair = make_pair(daemon_factory, [counter(rate_hz=50)])
    try:
        pair.trust()
        pair.core.wait_for(lambda: pair.core_row()["state"] == "connected", 10, "connected")
        # another key claiming the trusted id is refused, and nothing of it arrives
        host, port = pair.listen
        impostor = daemon_factory([counter("c2", 50)], extra_args=[
            "--satellite", "--satellite-id", "sat1", "--core-host", f"{host}:{port}",
            f"--core-key={pair.core_key}"]).start()
        impostor.wait_for(lambda: impostor.ctl_json("satellites")[0]["state"] == "refused",
                          10, "impostor refused")
        assert "bound to another key" in impostor.ctl_json("satellites")[0]["reason"]
        done = pair.core.ctl("satellites", "trust", "--pending", "sat1")
        assert done.returncode == 1 and "bound to another key" in done.stderr
        # a satellite that does not find its pinned core key sends nothing
        other_core = zmq.curve_keypair()[0].decode()
        lost = daemon_factory([counter("c3", 50)], extra_args=[
            "--satellite", "--satellite-id", "sat3", "--core-host", f"{host}:{port}",
            f"--core-key={other_core}"]).start()
        lost.wait_for(lambda: lost.ctl_json("satellites")[0]["state"] == "wrong_key", 10,
                      "wrong core key reported")
        time.sleep(1)
        assert _no_value(pair.core, "sat1.c2.seq")
        assert pair.core.call("datapoints", prefix="sat3")["total"] == 0
        assert not [r for r in pair.core.ctl_json("satellites") if r["id"] == "sat3"]
        assert pair.core_row()["state"] == "connected"  # the real sat1 is unaffected
    finally:
        pair.relay.close()


def test_first_use_pins_the_core_key_and_refuses_another_core(daemon_factory) -> None:
    host, port = free_endpoint()
    core = daemon_factory([], extra_args=["--satellite-listen", f"{host}:{port}"]).start()
    core_key = core.ctl_json("node-key")["key"]
    sat = daemon_factory([counter(rate_hz=20)], extra_args=[
        "--satellite", "--satellite-id", "sat1", "--core-host", f"{host}:{port}"]).start()
    pinned = sat.data / "keys" / "core.pub"
    sat.wait_for(lambda: pinned.exists(), 10, "core key pinned on first use")
    assert pinned.read_text().strip() == core_key
    assert core.ctl("satellites", "trust", "--pending", "sat1").returncode == 0
    core.wait_for(lambda: core.ctl_json("get", "sat1.c1.seq")["value"] > 0, 10, "data")
    assert sat.stop() == 0
    # the same satellite now finds another core at the address: it refuses to send
    other_host, other_port = free_endpoint()
    other = daemon_factory([], extra_args=["--satellite-listen",
                                           f"{other_host}:{other_port}"]).start()
    at = sat.args.index("--core-host") + 1
    sat.args[at] = f"{other_host}:{other_port}"
    sat.start()
    sat.wait_for(lambda: sat.ctl_json("satellites")[0]["state"] == "wrong_key", 10,
                 "refused: another core key")
    assert "not the pinned" in sat.ctl_json("satellites")[0]["reason"]
    assert pinned.read_text().strip() == core_key  # the pin is kept
    time.sleep(1)
    assert other.ctl_json("satellites") == []  # not even a handshake reached it


def test_the_gateway_control_socket_checks_declared_arguments(daemon_factory) -> None:
    """The gateway's own control socket runs command classes (gateway_commands.py): an
    unknown command and a bad argument are refused before anything runs, naming it."""
    host, port = free_endpoint()
    core = daemon_factory([counter(rate_hz=5)],
                          extra_args=["--satellite-listen", f"{host}:{port}"]).start()
    core.wait_for(lambda: addresses.socket_path(core.run, CTL_SOCK).exists(), 10,
                  "the gateway's control socket")
    client = RpcClient(addresses.endpoint(core.run, CTL_SOCK), 10)
    try:
        assert client.call("list") == []
        assert client.call("stats") == {}
        with pytest.raises(RpcError) as unknown:
            client.call("lsit")
        assert unknown.value.code == UNKNOWN_COMMAND
        with pytest.raises(RpcError) as missing:
            client.call("instance", verb="start", args={"id": "c1"})
        assert missing.value.code == BAD_REQUEST
        assert str(missing.value) == "satellite: required"
        with pytest.raises(RpcError) as typed:
            client.call("ha_votes", within_s="soon")
        assert typed.value.code == BAD_REQUEST and str(typed.value).startswith("within_s:")
        with pytest.raises(RpcError) as extra:
            client.call("reload", force=True)
        assert extra.value.code == BAD_REQUEST and str(extra.value).startswith("force:")
    finally:
        client.close()
