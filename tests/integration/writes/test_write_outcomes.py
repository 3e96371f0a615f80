"""Writes acknowledged end to end: every outcome through edgectl, the API and routes.

One daemon with real simulator workers: ``plc_1`` takes writes, ``broken`` refuses
them as its device would (``write_fault: device_error``), ``silent`` takes them and
never reports the value back (``no_report``), ``off`` is disabled. Routes from ``src``
write values that ``tgt`` must refuse, so their refusals are counted per route.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.admin_ui.web import WebDaemon
from tests.integration.daemon import sim


def plc(iid: str, write_fault: str | None = None, **extra: Any) -> dict[str, Any]:
    entry = sim(iid, rate_hz=5, **extra)
    if write_fault:
        entry["config"]["write_fault"] = write_fault
    return entry


ROUTES = [
    {"id": "to_read_only", "from": "src.voltage", "to": "tgt.MAIN.fTemp"},
    {"id": "to_nowhere", "from": "src.soc", "to": "tgt.MAIN.nothing"},
    {"id": "bool_to_number", "from": "src.charge_mos", "to": "tgt.MAIN.setpoint"},
    {"id": "to_broken", "from": "src.current", "to": "broken.MAIN.setpoint"},
    {"id": "fine", "from": "src.power", "to": "ok_tgt.setpoint"},
]


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    w = WebDaemon(tmp_path_factory.mktemp("writes"),
                  [plc("plc_1"), plc("broken", "device_error"), plc("silent", "no_report"),
                   plc("off", enabled=False), sim("src", "bms", rate_hz=5), plc("tgt"),
                   sim("ok_tgt", "meter", rate_hz=1)], ROUTES).start()
    w.d.wait_for(lambda: w.d.call("datapoints", prefix="plc_1.", q="", limit=50)["total"] > 3,
                 10, "plc_1 reports values")
    yield w
    w.close()


def ctl_set(ui: WebDaemon, *argv: str) -> tuple[int, str]:
    done = ui.d.ctl("set", *argv)
    return done.returncode, (done.stdout + done.stderr).strip()


# -- edgectl ---------------------------------------------------------------------------
def test_cli_confirmed_when_the_device_reports_the_value(ui: WebDaemon) -> None:
    code, out = ctl_set(ui, "plc_1.MAIN.setpoint", "22.5")
    assert (code, out.split(":")[0]) == (0, "confirmed"), out
    assert "plc_1.MAIN.setpoint = 22.5" in out
    got = ui.d.call("get", address="plc_1.MAIN.setpoint")
    assert (got["value"], got["ack"]) == (22.5, True)


@pytest.mark.parametrize(("address", "value", "reason"), [
    ("plc_1.MAIN.setpoint", "abc", "plc_1.MAIN.setpoint: bad value 'abc', expected a number"),
    ("plc_1.MAIN.fTemp", "30", "plc_1.MAIN.fTemp is read-only"),
    ("plc_1.MAIN.nothing", "1", "plc_1 has no datapoint 'MAIN.nothing'"),
    ("nosuch.MAIN.setpoint", "1", "'nosuch.MAIN.setpoint' belongs to no instance"),
    ("broken.MAIN.setpoint", "20", "broken.MAIN.setpoint: the device refused the write"),
    ("off.MAIN.setpoint", "20", "off is not running"),
])
def test_cli_refused_with_the_reason_exits_1(ui: WebDaemon, address: str, value: str,
                                             reason: str) -> None:
    code, out = ctl_set(ui, address, value)
    assert code == 1, out
    assert out.startswith(f"refused: {reason}"), out


def test_cli_refusal_as_json_names_the_kind(ui: WebDaemon) -> None:
    done = ui.d.ctl("set", "plc_1.MAIN.fTemp", "30", "--json")  # --json after the verb
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert (doc["outcome"], doc["refusal"]) == ("refused", "read_only")


def test_cli_timeout_when_the_device_never_reports(ui: WebDaemon) -> None:
    code, out = ctl_set(ui, "silent.MAIN.setpoint", "19", "--timeout", "1")
    assert code == 1
    assert out == ("timeout: silent.MAIN.setpoint = 19: accepted, but the device reported "
                   "no value within 1 s"), out


def test_cli_no_wait_fires_and_forgets(ui: WebDaemon) -> None:
    code, out = ctl_set(ui, "silent.MAIN.setpoint", "18", "--no-wait")
    assert (code, out) == (0, "sent: silent.MAIN.setpoint = 18 to silent (not waiting)")


# -- HTTP API --------------------------------------------------------------------------
def test_api_outcomes_and_statuses(ui: WebDaemon) -> None:
    web = ui.admin()
    res = web.put("/api/datapoints/plc_1.MAIN.setpoint", {"value": 23.5})
    assert res.status == 200, res.text
    assert res.json()["outcome"] == "confirmed" and res.json()["reported"] == 23.5
    cases = [("plc_1.MAIN.setpoint", "abc", 422, "bad_value"),
             ("plc_1.MAIN.fTemp", 30, 409, "read_only"),
             ("plc_1.MAIN.nothing", 1, 404, "unknown_datapoint"),
             ("broken.MAIN.setpoint", 1, 409, "device_error"),
             ("off.MAIN.setpoint", 1, 409, "not_delivered")]
    for address, value, status, refusal in cases:
        res = web.put(f"/api/datapoints/{address}", {"value": value})
        assert res.status == status, (address, res.text)
        doc = res.json()
        assert doc["error"].startswith("refused: ") and doc["detail"]["refusal"] == refusal
    res = web.put("/api/datapoints/silent.MAIN.setpoint?timeout=0.5", {"value": 1})
    assert res.status == 504 and res.json()["error"].startswith("timeout: ")
    res = web.put("/api/datapoints/silent.MAIN.setpoint?wait=false", {"value": 1})
    assert res.status == 202 and res.json()["outcome"] == "sent"
    assert web.put("/api/datapoints/plc_1.MAIN.setpoint?timeout=0", {"value": 1}).status == 400


# -- routes ----------------------------------------------------------------------------
def test_routes_count_refused_writes_with_the_reason(ui: WebDaemon) -> None:
    def counters() -> dict[str, Any]:
        return ui.d.call("routes")["counters"]

    expected = {"to_read_only": "tgt.MAIN.fTemp is read-only",
                "to_nowhere": "tgt has no datapoint 'MAIN.nothing'",
                "bool_to_number": "tgt.MAIN.setpoint: bad value True, expected a number",
                "to_broken": "broken.MAIN.setpoint: the device refused the write (simulated)"}
    ui.d.wait_for(lambda: all(counters()[r]["refused"] > 0 for r in expected), 15,
                  "refusals counted on every route")
    now = counters()
    for route, reason in expected.items():
        assert now[route]["last_refusal"] == reason
    assert now["fine"]["fired"] > 0 and now["fine"]["refused"] == 0
    refused = ui.d.instance("broker")["bus"]["writes_refused"]
    assert refused["tgt"] > 0 and refused["broken"] > 0
    assert ui.d.instance("tgt")["bus"]["commands_refused"] > 0


def test_datapoints_say_which_routes_write_them(ui: WebDaemon) -> None:
    got = ui.d.call("get", address="tgt.MAIN.setpoint")
    assert got["routes_in"] == ["bool_to_number"]
    assert ui.d.call("get", address="plc_1.MAIN.setpoint")["routes_in"] == []
    code, out = ctl_set(ui, "tgt.MAIN.setpoint", "3")
    assert code == 0 and out.splitlines()[1] == (
        "note: route bool_to_number writes this datapoint and will overwrite the value when "
        "it fires")


# -- panic (last: it stops the workers) ------------------------------------------------
def test_panic_refuses_writes_everywhere(ui: WebDaemon) -> None:
    ui.d.call("panic", who="test", why="drill")
    try:
        code, out = ctl_set(ui, "plc_1.MAIN.setpoint", "20")
        assert (code, out) == (1, "refused: panic mode: commands to devices are blocked")
        res = ui.admin().put("/api/datapoints/plc_1.MAIN.setpoint", {"value": 20})
        assert res.status == 409 and res.json()["detail"]["refusal"] == "panic"
    finally:
        ui.d.call("recover", who="test")
