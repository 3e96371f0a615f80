"""The ads worker in a real daemon against stand-in PLCs (pyads' test server, extended)
in their own processes, over real TCP: nothing of the worker or pyads is mocked."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
from edgeos.ipc.rpc import RpcError

from tests.integration.ads.plc_server import PlcProcess

FAST = {"check_interval_s": 0.2, "timeout_s": 0.5, "reconnect_min_s": 0.1,
        "reconnect_max_s": 0.5, "notify_cycle_ms": 10}


def ads(iid: str, plc: PlcProcess, **config: Any) -> dict[str, Any]:
    return {"id": iid, "type": "ads",
            "config": {"ams_net_id": plc.net_id, "ams_port": 851, "host": plc.host,
                       **FAST, **config}}


def get(d: Any, address: str) -> dict[str, Any]:
    return d.call("get", address=address)


def value_is(d: Any, address: str, expected: Any, quality: str = "good") -> bool:
    entry = get(d, address)
    return entry["value"] == expected and entry["quality"] == quality


def test_symbols_structs_meta_and_notifications(daemon_factory, plc_factory) -> None:
    plc = plc_factory("127.0.0.2")
    d = daemon_factory([ads("plc_1", plc)]).start()
    d.wait_for(lambda: get(d, "plc_1.MAIN.fbBattery.aCells.2"), what="first values")
    # structs and arrays flattened into dotted paths, values as the PLC holds them
    for path, expected in {"MAIN.fbBattery.fVoltage": 52.5, "MAIN.fbBattery.fCurrent": -3.25,
                           "MAIN.fbBattery.nCycles": 17, "MAIN.fbBattery.aCells.1": 3.25,
                           "MAIN.aTemps.1": -5, "MAIN.aTemps.3": 250, "MAIN.sName": "Keller",
                           "MAIN.nMode": 1, "MAIN.bAlarm": False}.items():
        entry = get(d, f"plc_1.{path}")
        assert (entry["value"], entry["quality"], entry["ack"]) == (expected, "good", True), path
    # the symbol upload arrives as metadata for the tree view
    meta = get(d, "plc_1.MAIN.fTemp")["meta"]
    assert meta == {"type": "REAL", "size": 4, "comment": "Boiler temperature",
                    "index_group": 0x4020, "index_offset": meta["index_offset"],
                    "writable": True, "mode": "notify"}
    assert get(d, "plc_1.MAIN.nVersion")["meta"]["writable"] is False
    cells = get(d, "plc_1.MAIN.fbBattery.aCells.2")["meta"]
    assert (cells["type"], cells["size"]) == ("REAL", 4)
    assert cells["index_offset"] == get(d, "plc_1.MAIN.fbBattery.fVoltage")["meta"][
        "index_offset"] + 16
    # the PLC's cycle moves nCounter: only notifications can carry that (nothing polls)
    first = get(d, "plc_1.MAIN.nCounter")["value"]
    d.wait_for(lambda: get(d, "plc_1.MAIN.nCounter")["value"] >= first + 10,
               what="nCounter advancing")
    # a change made inside the PLC arrives on its own
    plc.set("MAIN.bAlarm", True)
    plc.set("MAIN.fbBattery.aCells.1", 3.75)
    d.wait_for(lambda: value_is(d, "plc_1.MAIN.bAlarm", True)
               and value_is(d, "plc_1.MAIN.fbBattery.aCells.1", 3.75), what="PLC-side change")
    server = plc.stats()
    assert server["registrations"] == 9  # one notification per top-level symbol
    assert server["samples"] > 10
    # each rate is news once two looks agree (ipc/heartbeat.py), not all in one beat
    bus = d.wait_for(lambda: (b := d.instance("plc_1")["bus"])["notifications_per_s"] > 0
                     and b["requests_per_s"] > 0 and (b["latency_ms"] or 0) > 0 and b,
                     what="notification and liveness-check rates in stats")
    assert bus["connected"] is True and bus["datapoints"] == 15 and bus["reconnects"] == 0


def test_writes_are_converted_read_back_and_acked(daemon_factory, plc_factory) -> None:
    plc = plc_factory("127.0.0.2")
    d = daemon_factory([ads("plc_1", plc)]).start()
    d.wait_for(lambda: get(d, "plc_1.MAIN.setpoint"), what="first values")
    writes = {"MAIN.setpoint": 22.5, "MAIN.fbBattery.fVoltage": 48.1, "MAIN.aTemps.2": -300,
              "MAIN.sName": "Garage", "MAIN.bAlarm": True, "MAIN.fbBattery.nCycles": "42"}
    for path, value in writes.items():
        d.call("set", address=f"plc_1.{path}", value=value)
    expected = {**writes, "MAIN.fbBattery.nCycles": 42}
    for path, value in expected.items():
        d.wait_for(lambda p=path, v=value: (e := get(d, f"plc_1.{p}"))["value"] == v
                   and e["ack"] is True, what=f"{path} read back")
        held = plc.get(path)  # it is in the PLC (as a REAL: 48.1 to float32 precision)
        assert held == (pytest.approx(value, rel=1e-6) if isinstance(held, float) else value)
    errors_before = d.instance("plc_1")["error_count"]
    # out of the PLC type's range, read-only, unknown, not a number: refused, PLC untouched
    refusals = [d.call("set", address=f"plc_1.{path}", value=value)["refusal"]
                for path, value in (("MAIN.aTemps.1", 40000), ("MAIN.nVersion", 4),
                                    ("MAIN.nope", 1), ("MAIN.setpoint", "warm"))]
    assert refusals == ["bad_value", "read_only", "unknown_datapoint", "bad_value"]
    inst = d.wait_for(lambda: (i := d.instance("plc_1"))["error_count"] >= errors_before + 4
                      and i, what="four rejections counted")
    assert "MAIN.setpoint (LREAL): 'warm' is not a number" in inst["last_error"]
    assert plc.get("MAIN.aTemps.1") == -5 and plc.get("MAIN.nVersion") == 3
    assert plc.get("MAIN.setpoint") == 22.5
    assert get(d, "plc_1.MAIN.aTemps.1")["value"] == -5


def test_patterns_and_poll_mode(daemon_factory, plc_factory) -> None:
    plc = plc_factory("127.0.0.2")
    symbols = ["MAIN.fbBattery",
               {"pattern": "main.nCounter", "mode": "poll", "poll_interval_s": 0.1}]
    d = daemon_factory([ads("plc_1", plc, symbols=symbols)]).start()
    d.wait_for(lambda: get(d, "plc_1.MAIN.nCounter"), what="polled value")
    meta = get(d, "plc_1.MAIN.nCounter")["meta"]
    assert (meta["mode"], meta["poll_interval_s"]) == ("poll", 0.1)
    assert get(d, "plc_1.MAIN.fbBattery.aCells.2")["meta"]["mode"] == "notify"
    first = get(d, "plc_1.MAIN.nCounter")["value"]
    d.wait_for(lambda: get(d, "plc_1.MAIN.nCounter")["value"] >= first + 10,
               what="polling follows nCounter")
    assert plc.stats()["registrations"] == 1  # only fbBattery is notified
    for unselected in ("plc_1.MAIN.fTemp", "plc_1.MAIN.aTemps.1"):
        with pytest.raises(RpcError):
            get(d, unselected)
    # writes reach symbols outside the selection too: the whole table is known
    d.call("set", address="plc_1.MAIN.setpoint", value=19.5)
    d.wait_for(lambda: plc.get("MAIN.setpoint") == 19.5, what="write outside selection")


def test_plc_restart_marks_points_bad_then_reconnects(daemon_factory, plc_factory) -> None:
    plc = plc_factory("127.0.0.2")
    d = daemon_factory([ads("plc_1", plc)]).start()
    d.wait_for(lambda: value_is(d, "plc_1.MAIN.sName", "Keller"), what="first values")
    plc.stop()
    points = ["plc_1.MAIN.fTemp", "plc_1.MAIN.sName", "plc_1.MAIN.fbBattery.aCells.1"]
    d.wait_for(lambda: all(get(d, a)["quality"] == "bad" for a in points), 10,
               what="points bad while the PLC is away")
    assert get(d, "plc_1.MAIN.sName")["value"] == "Keller"  # last value kept, marked bad
    bus = d.wait_for(lambda: (b := d.instance("plc_1")["bus"])["connected"] is False
                     and b["last_error"] and b, what="disconnected in stats")
    assert bus["last_error"].startswith("plc_1: ")
    assert d.instance("plc_1")["status"] == "running"  # a lost PLC is not a crash
    refused = d.call("set", address="plc_1.MAIN.setpoint", value=30.0)
    assert refused["refusal"] == "device_error"
    assert "PLC not connected" in refused["reason"]  # (last_error moves on: reconnects)
    assert d.instance("plc_1")["bus"]["connected"] is False
    plc.start()
    plc.set("MAIN.sName", "Wieder da")
    d.wait_for(lambda: all(get(d, a)["quality"] == "good" for a in points)
               and get(d, "plc_1.MAIN.sName")["value"] == "Wieder da", 15,
               what="good again after reconnect")
    bus = d.wait_for(lambda: (b := d.instance("plc_1")["bus"])["connected"] and b,
                     what="connected in stats")
    assert bus["reconnects"] == 1
    assert plc.get("MAIN.setpoint") == 20.0  # the refused write was not replayed
    first = get(d, "plc_1.MAIN.nCounter")["value"]
    d.wait_for(lambda: get(d, "plc_1.MAIN.nCounter")["value"] > first,
               what="notifications registered anew")


def test_stopped_or_restarted_worker_leaves_no_stale_good_value(daemon_factory,
                                                                plc_factory) -> None:
    plc = plc_factory("127.0.0.2")
    d = daemon_factory([ads("plc_1", plc, check_interval_s=30)]).start()
    d.wait_for(lambda: value_is(d, "plc_1.MAIN.sName", "Keller"), what="first values")
    assert d.ctl("stop", "plc_1").returncode == 0
    assert get(d, "plc_1.MAIN.sName")["quality"] == "bad"  # stopped on purpose: unwatched
    assert d.ctl("start", "plc_1").returncode == 0
    d.wait_for(lambda: value_is(d, "plc_1.MAIN.sName", "Keller"), what="good again")
    # PLC gone, then the worker dies before it noticed: its successor finds no PLC and
    # marks the points it knew from the last symbol upload
    plc.stop()
    os.kill(d.instance("plc_1")["pid"], signal.SIGKILL)
    d.wait_for(lambda: get(d, "plc_1.MAIN.sName")["quality"] == "bad"
               and get(d, "plc_1.MAIN.fbBattery.nCycles")["quality"] == "bad", 15,
               what="cached points marked bad by the restarted worker")


def test_two_plcs_in_parallel(daemon_factory, plc_factory) -> None:
    plc_a = plc_factory("127.0.0.2")
    plc_b = plc_factory("127.0.0.3")
    plc_b.set("MAIN.sName", "Garage")
    d = daemon_factory([ads("plc_a", plc_a), ads("plc_b", plc_b)]).start()
    d.wait_for(lambda: value_is(d, "plc_a.MAIN.sName", "Keller")
               and value_is(d, "plc_b.MAIN.sName", "Garage"), what="both PLCs")
    d.call("set", address="plc_b.MAIN.setpoint", value=17.0)
    d.wait_for(lambda: value_is(d, "plc_b.MAIN.setpoint", 17.0), what="write to B")
    assert plc_b.get("MAIN.setpoint") == 17.0 and plc_a.get("MAIN.setpoint") == 20.0
    assert get(d, "plc_a.MAIN.setpoint")["value"] == 20.0
    plc_a.stop()  # one PLC failing leaves the other alone
    d.wait_for(lambda: get(d, "plc_a.MAIN.fTemp")["quality"] == "bad", what="A bad")
    first = get(d, "plc_b.MAIN.nCounter")["value"]
    d.wait_for(lambda: get(d, "plc_b.MAIN.nCounter")["value"] > first
               and get(d, "plc_b.MAIN.nCounter")["quality"] == "good", what="B still live")


def test_route_is_added_on_the_plc_with_its_credentials(daemon_factory, plc_factory) -> None:
    plc = plc_factory("127.0.0.2", password="s3cret")
    good = {"username": "Administrator", "password": "s3cret", "route_name": "edge-test"}
    bad = {**good, "password": "wrong"}
    d = daemon_factory([ads("plc_1", plc, route=good, local_net_id="10.0.0.7.1.1")]).start()
    d.wait_for(lambda: get(d, "plc_1.MAIN.fTemp")["quality"] == "good", what="connected")
    assert plc.stats()["routes"] == [{"name": "edge-test", "host": "127.0.0.1",
                                      "net_id": "10.0.0.7.1.1"}]
    d.write_connections([ads("plc_1", plc, route=bad)])
    assert d.ctl("reload").returncode == 0
    d.wait_for(lambda: "refused the route" in (d.instance("plc_1")["last_error"] or ""),
               what="wrong password reported")
    assert d.instance("plc_1")["bus"]["connected"] is False
    assert len(plc.stats()["routes"]) == 1


def test_notifications_the_plc_refuses_are_polled(daemon_factory, plc_factory) -> None:
    plc = plc_factory("127.0.0.2", max_notifications=3)
    d = daemon_factory([ads("plc_1", plc, poll_interval_s=0.1)]).start()
    d.wait_for(lambda: get(d, "plc_1.MAIN.sName")["meta"]["mode"] == "poll",
               what="refused notifications moved to polling")
    assert plc.stats()["registrations"] == 3
    d.wait_for(lambda: "PLC refused 6 notifications" in (d.instance("plc_1")["last_error"]
                                                         or ""), what="refusal reported")
    assert get(d, "plc_1.MAIN.fTemp")["meta"]["mode"] == "notify"
    plc.set("MAIN.sName", "polled")
    plc.set("MAIN.fbBattery.nCycles", 99)
    d.wait_for(lambda: value_is(d, "plc_1.MAIN.sName", "polled")
               and value_is(d, "plc_1.MAIN.fbBattery.nCycles", 99), what="polled changes")
    assert d.instance("plc_1")["bus"]["connected"] is True
