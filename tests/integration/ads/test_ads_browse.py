"""The PLC symbol browser: a browse job beside a running ads instance, against the
stand-in PLC process over real TCP; subscribing a symbol makes it a datapoint."""

from __future__ import annotations

from typing import Any

from tests.integration.ads.test_ads_worker import ads, get


def test_the_tree_with_values_and_subscribing_a_symbol(daemon_factory: Any,
                                                       plc_factory: Any) -> None:
    plc = plc_factory("127.0.0.5")
    entry = ads("plc_1", plc, symbols=["MAIN.fTemp"])
    d = daemon_factory([entry]).start()
    d.wait_for(lambda: get(d, "plc_1.MAIN.fTemp")["quality"] == "good", what="first value")
    job = d.call("browse", id="plc_1")
    done = d.wait_for(lambda: (j := d.call("discover_status", job=job["id"]))["state"]
                      != "running" and j, what="browse job")
    assert done["state"] == "done", done["error"]
    symbols = {s["path"]: s for s in done["result"]["symbols"]}
    voltage = symbols["MAIN.fbBattery.fVoltage"]
    assert (voltage["value"], voltage["type"], voltage["size"], voltage["selected"]) == \
        (52.5, "REAL", 4, False)
    assert voltage["index_group"] == 0x4020 and "index_offset" in voltage
    assert symbols["MAIN.fTemp"]["selected"] is True
    assert symbols["MAIN.fTemp"]["comment"] == "Boiler temperature"
    assert symbols["MAIN.nVersion"]["writable"] is False
    assert symbols["MAIN.sName"]["value"] == "Keller"
    assert done["result"]["patterns"] == ["MAIN.fTemp"]
    # subscribe: the instance's patterns gain the symbol, and it becomes a datapoint
    entry["config"]["symbols"] = ["MAIN.fTemp", "MAIN.fbBattery.fVoltage"]
    d.write_connections([entry])
    d.call("reload")
    d.wait_for(lambda: get(d, "plc_1.MAIN.fbBattery.fVoltage")["value"] == 52.5,
               what="the subscribed symbol as a datapoint")


def test_browsing_needs_an_ads_or_mqtt_instance_and_a_reachable_plc(
        daemon_factory: Any) -> None:
    from edgeos.ipc.rpc import RpcError

    from tests.integration.daemon import sim

    unreachable = {"id": "plc_x", "type": "ads", "config": {
        "ams_net_id": "127.0.0.9.1.1", "host": "127.0.0.9", "timeout_s": 0.3,
        "reconnect_min_s": 0.5, "reconnect_max_s": 1}}
    d = daemon_factory([sim("sim_1"), unreachable]).start(wait=False)
    d.wait_for(lambda: d.status("sim_1")["instances"][0]["status"] == "running",
               what="simulator running")
    try:
        d.call("browse", id="sim_1")
        raise AssertionError("browsing a simulator was accepted")
    except RpcError as exc:
        assert "browsing is for ads and mqtt instances" in str(exc)
    job = d.call("browse", id="plc_x")
    done = d.wait_for(lambda: (j := d.call("discover_status", job=job["id"]))["state"]
                      != "running" and j, what="browse job ends")
    assert done["state"] == "failed" and "127.0.0.9" in done["error"]
