"""The broker with real processes: simulators -> broker -> simulators."""

from __future__ import annotations

import os
import signal
import time

import zmq
from edgeos.ipc import addresses, protocol

from tests.integration.daemon import pid_alive, sim


def value(d, address: str):
    return d.call("get", address=address)["value"]


def test_simulator_to_broker_to_simulator_command(daemon_factory) -> None:
    d = daemon_factory([sim("bms_1", "bms", rate_hz=5), sim("plc_1", rate_hz=5)],
                       routes=[{"id": "v2sp", "from": "bms_1.voltage",
                                "to": "plc_1.MAIN.setpoint",
                                "transform": ["scale(0.5)", "round(2)"]}]).start()
    d.wait_for(lambda: abs(value(d, "plc_1.MAIN.setpoint") - value(d, "bms_1.voltage") * 0.5)
               < 0.5, what="setpoint follows voltage")
    got = d.call("get", address="plc_1.MAIN.setpoint")
    assert got["ack"] is True and got["quality"] == "good"  # reported back by the device
    routes = d.call("routes")
    assert routes["counters"]["v2sp"]["fired"] > 0
    d.wait_for(lambda: d.instance("broker")["pps_in"] > 0, what="broker rate reported")


def test_multi_target_and_log_channel(daemon_factory) -> None:
    d = daemon_factory([sim("a", "bms", rate_hz=5), sim("t1"), sim("t2", "meter")],
                       routes=[{"id": "fan", "from": "a.soc",
                                "to": ["t1.MAIN.setpoint", "t2.setpoint", "log.system"]}]).start()
    d.wait_for(lambda: value(d, "t1.MAIN.setpoint") == value(d, "t2.setpoint")
               == value(d, "a.soc"), what="both targets follow")
    logs = d.wait_for(lambda: [e for e in d.call("logs", id="broker", n=200)
                               if "route fan" in e["line"]], what="log.system line")
    assert "a.soc" in logs[-1]["line"]


def test_condition_and_dry_run_via_edgectl(daemon_factory) -> None:
    d = daemon_factory([sim("a", "bms"), sim("t1")],
                       routes=[{"id": "hot", "from": "a.temperatures.1", "to": "t1.MAIN.setpoint",
                                "condition": "value > 30", "transform": "offset(-10)"}]).start()
    out = d.ctl("route", "test", "a.temperatures.1", "35")
    assert out.returncode == 0, out.stderr
    assert "route hot: fires" in out.stdout and "t1.MAIN.setpoint = 25" in out.stdout
    out = d.ctl("route", "test", "a.temperatures.1", "20")
    assert "does not fire: condition false" in out.stdout
    dry = d.ctl_json("route", "test", "a.temperatures.1", "35")
    assert dry["routes"][0]["deliveries"] == [{"target": "t1.MAIN.setpoint", "value": 25}]
    # the dry run changed nothing
    assert d.call("routes")["counters"]["hot"]["fired"] == 0


def test_bidirectional_without_loops(daemon_factory) -> None:
    d = daemon_factory([sim("src"), sim("dst", "meter")],
                       routes=[{"id": "bi", "from": "src.MAIN.setpoint", "to": "dst.setpoint",
                                "transform": "scale(2)", "bidirectional": True}]).start()
    d.call("set", address="dst.setpoint", value=30)  # a command on the target flows back / 2
    d.wait_for(lambda: value(d, "src.MAIN.setpoint") == 15, what="reverse flow")
    # src reports 15 -> forward route -> dst gets 30 again: settles, no ping-pong
    d.wait_for(lambda: value(d, "dst.setpoint") == 30, what="forward flow")
    fired = d.call("routes")["counters"]["bi"]["fired"]
    time.sleep(1.5)
    assert d.call("routes")["counters"]["bi"]["fired"] <= fired + 8  # bounded, no storm


def test_route_reload_valid_and_invalid(daemon_factory) -> None:
    d = daemon_factory([sim("a", "bms"), sim("t1")],
                       routes=[{"id": "r1", "from": "a.soc", "to": "t1.MAIN.setpoint"}]).start()
    d.write_routes([{"id": "r1", "from": "a.soc", "to": "t1.MAIN.setpoint"},
                    {"id": "r2", "from": "a.cells.*", "to": "log.cells"}])
    assert d.ctl("reload").returncode == 0
    assert {r["id"] for r in d.call("routes")["routes"]} == {"r1", "r2"}
    d.write_routes([{"id": "bad", "from": "a.soc", "to": "t1.MAIN.setpoint",
                     "transform": "scael(2)"}])
    done = d.ctl("reload")
    assert done.returncode == 1
    assert "routing.json: route 'bad'" in done.stderr and "scael" in done.stderr
    assert {r["id"] for r in d.call("routes")["routes"]} == {"r1", "r2"}
    v = d.ctl("validate", str(d.config))
    assert v.returncode == 1 and "scael" in v.stdout


def test_spam_guard_suspends_only_the_flooder(daemon_factory) -> None:
    d = daemon_factory([sim("flood", fault={"kind": "spam", "pps": 3000},
                            limits={"max_pps": 500}),
                        sim("quiet", "bms", rate_hz=5)]).start()
    inst = d.wait_for(lambda: (i := d.instance("flood"))["status"] == "suspended_by_spam" and i,
                      30, "suspension")
    assert inst["pid"] is None and "spam guard" in inst["last_error"]
    assert inst["spam_pps"] > 500
    assert d.instance("quiet")["status"] == "running"
    before = value(d, "quiet.soc"), d.call("get", address="quiet.soc")["ts"]
    d.wait_for(lambda: d.call("get", address="quiet.soc")["ts"] > before[1], what="quiet flows")
    logs = [e["line"] for e in d.call("logs", id="broker", n=200)]
    assert any("spam guard: flood sent" in line for line in logs)
    assert d.ctl("reactivate", "flood").returncode == 0
    assert d.instance("flood")["status"] in ("running", "suspended_by_spam")


def test_disconnect_cuts_an_instance_from_the_router(daemon_factory) -> None:
    d = daemon_factory([sim("a", "bms", rate_hz=10)]).start()
    assert d.ctl("disconnect", "a").returncode == 0
    inst = d.instance("a")
    assert inst["status"] == "disconnected" and inst["pid"]
    ts = d.call("get", address="a.soc")["ts"]
    time.sleep(0.6)
    assert d.call("get", address="a.soc")["ts"] == ts  # nothing routed meanwhile
    assert d.ctl("set", "a.setpoint", "3").returncode == 1
    assert d.ctl("reconnect", "a").returncode == 0
    d.wait_for(lambda: d.call("get", address="a.soc")["ts"] > ts, what="flowing again")


def test_broker_kill_9_recovers_with_last_values(daemon_factory) -> None:
    d = daemon_factory([sim("a", "bms", rate_hz=5), sim("t1")]).start()
    d.call("set", address="t1.MAIN.setpoint", value=12.5)
    d.wait_for(lambda: value(d, "t1.MAIN.setpoint") == 12.5)
    time.sleep(1.5)  # one write-behind flush
    broker_pid = d.instance("broker")["pid"]
    os.kill(broker_pid, signal.SIGKILL)
    d.wait_for(lambda: (b := d.instance("broker"))["status"] == "running"
               and b["pid"] != broker_pid, what="broker restarted")
    assert value(d, "t1.MAIN.setpoint") == 12.5
    # workers reconnected by themselves: new values flow
    ts = d.call("get", address="a.soc")["ts"]
    d.wait_for(lambda: d.call("get", address="a.soc")["ts"] > ts, what="values flow again")
    # a daemon restart restores them too, with their old ts
    d.stop()
    d.write_connections([])
    d.start()
    restored = d.call("get", address="t1.MAIN.setpoint")
    assert restored["value"] == 12.5


def test_malformed_messages_are_dropped_and_counted(daemon_factory) -> None:
    d = daemon_factory([sim("a", "bms", rate_hz=5)]).start()
    ctx = zmq.Context.instance()
    rogue = ctx.socket(zmq.DEALER)
    rogue.setsockopt(zmq.IDENTITY, b"rogue")
    rogue.setsockopt(zmq.LINGER, 2000)
    rogue.connect(addresses.endpoint(d.run, addresses.BROKER))
    rogue.send_multipart([protocol.DP, b"\xc1garbage"])
    rogue.send_multipart([protocol.DP, protocol.pack([["x"], [1, 2, 3, 4, 5, 6], "str"])])
    rogue.send_multipart([b"weird"])
    rogue.send_multipart([protocol.DP, protocol.pack([["ok.path", 1, 0, "excellent", True,
                                                      None]])])
    rogue.close()
    d.wait_for(lambda: d.instance("broker")["bus"]["malformed"] >= 4, what="counted")
    broker = d.instance("broker")
    assert broker["status"] == "running" and broker["restarts"] == 0
    ts = d.call("get", address="a.soc")["ts"]
    d.wait_for(lambda: d.call("get", address="a.soc")["ts"] > ts, what="still routing")


def test_blobs_travel_as_separate_frames(daemon_factory) -> None:
    d = daemon_factory([sim("a")]).start()
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.connect(addresses.endpoint(d.run, addresses.CHANGES))
    sub.setsockopt(zmq.SUBSCRIBE, b"cam.")
    cam = ctx.socket(zmq.DEALER)
    cam.setsockopt(zmq.IDENTITY, b"cam")
    cam.setsockopt(zmq.LINGER, 0)
    cam.connect(addresses.endpoint(d.run, addresses.BROKER))
    payload = os.urandom(2 * 1024 * 1024)
    # PUB drops what it sends before the SUB's subscription arrived, some time after
    # connect (the slow joiner; a fixed 0.3 s is a guess a loaded machine can beat):
    # send until one arrives
    deadline = time.monotonic() + 20
    while True:
        cam.send_multipart([protocol.BLOB, protocol.pack(["image", 1, "good", True, "jpeg"]),
                            payload], copy=False)
        if sub.poll(500):
            break
        assert time.monotonic() < deadline, "the SUB socket never got the blob"
    frames = sub.recv_multipart()
    assert frames[0] == b"cam." and frames[2] == payload
    assert protocol.unpack(frames[1])[0][0] == "image"  # relative to the topic
    assert d.call("get", address="cam.image")["value"] == {"blob_bytes": len(payload)}
    cam.close()
    sub.close()
    assert pid_alive(d.instance("broker")["pid"])
