"""The palette inside a real Node-RED against a real daemon: ``smarthome-in`` receives
simulator values over the core's live WebSocket, ``smarthome-out`` writes them back over
the REST API, failures show in the node status and reach catch nodes, and a lost core is
reconnected. Only the token authenticates; no MQTT broker runs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.admin_ui.web import WebDaemon
from tests.integration.daemon import sim
from tests.integration.nodered.flows import (
    ERROR_FIELDS,
    MSG_FIELDS,
    STATUS_FIELDS,
    JsonLines,
    catch_of,
    core,
    function,
    smarthome_in,
    smarthome_out,
    status_of,
    tab,
)
from tests.integration.nodered.nodered import NodeRed


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDaemon]:
    w = WebDaemon(tmp_path_factory.mktemp("edge"), [sim("sim_a", "bms", rate_hz=5),
                                                    sim("sim_b", "inverter", rate_hz=2)])
    try:
        yield w.start()
    finally:
        w.close()


@pytest.fixture(scope="module")
def token(edge: WebDaemon) -> str:
    web = edge.token("admin", "nodered")
    assert web.token is not None
    return web.token


def value(edge: WebDaemon, address: str) -> dict[str, Any]:
    return edge.d.call("get", address=address)


def test_palette_installs_its_three_node_types(node_red: NodeRed) -> None:
    loaded = {t: s["enabled"] and not s.get("err") for s in node_red.palette_nodes()
              for t in s["types"]}
    assert loaded == {"smarthome-edge-core": True, "smarthome-in": True, "smarthome-out": True}


def test_in_emits_the_simulators_values(node_red: NodeRed, edge: WebDaemon, token: str,
                                        tmp_path: Path) -> None:
    soc = JsonLines(tmp_path / "soc.jsonl", MSG_FIELDS)
    cells = JsonLines(tmp_path / "cells.jsonl", MSG_FIELDS)
    node_red.deploy([tab(), core(edge.base, token),
                     smarthome_in("core1", "sim_a.soc", [soc.id]),
                     smarthome_in("core1", "sim_a.cells.*", [cells.id]),
                     *soc.nodes, *cells.nodes])

    def seen_current() -> bool:
        now = value(edge, "sim_a.soc")
        return any(line["ts"] == now["ts"] and line["payload"] == now["value"]
                   for line in soc.lines())

    # the daemon's latest value, with its own timestamp, arrives in the flow
    node_red.wait_for(seen_current, 20, "sim_a.soc in the flow")
    for line in soc.lines():
        assert line["topic"] == "sim_a.soc"
        assert isinstance(line["payload"], int | float) and 0 <= line["payload"] <= 100
        assert (line["quality"], line["ack"], line["unit"]) == ("good", True, "%")
    node_red.wait_for(lambda: len({c["topic"] for c in cells.lines()}) == 16, 20,
                      "all 16 cells through the pattern")
    assert all(re.fullmatch(r"sim_a\.cells\.([1-9]|1[0-6])", c["topic"]) and c["unit"] == "V"
               for c in cells.lines())


def test_in_to_function_to_out_writes_the_setpoint(node_red: NodeRed, edge: WebDaemon,
                                                   token: str) -> None:
    assert value(edge, "sim_b.setpoint")["value"] != 77
    assert value(edge, "sim_a.setpoint")["value"] != 33
    to_fixed = smarthome_out("core1", "sim_b.setpoint")
    to_topic = smarthome_out("core1")  # the address comes with msg.topic
    set77 = function("msg.payload = 77;\nreturn msg;", [to_fixed["id"]])
    set33 = function("msg.topic = 'sim_a.setpoint';\nmsg.payload = 33;\nreturn msg;",
                     [to_topic["id"]])
    node_red.deploy([tab(), core(edge.base, token),
                     smarthome_in("core1", "sim_a.soc", [set77["id"], set33["id"]]),
                     set77, set33, to_fixed, to_topic])

    def reported(address: str, wanted: float) -> bool:
        now = value(edge, address)
        return now["value"] == wanted and now["ack"] is True

    node_red.wait_for(lambda: reported("sim_b.setpoint", 77), 20, "sim_b.setpoint = 77, ack")
    node_red.wait_for(lambda: reported("sim_a.setpoint", 33), 20, "sim_a.setpoint = 33, ack")


def test_out_failures_show_in_status_and_reach_catch(node_red: NodeRed, edge: WebDaemon,
                                                     token: str, tmp_path: Path) -> None:
    statuses = JsonLines(tmp_path / "status.jsonl", STATUS_FIELDS)
    errors = JsonLines(tmp_path / "errors.jsonl", ERROR_FIELDS)
    read_only = smarthome_out("core1", "sim_a.soc")
    no_address = smarthome_out("core1")
    drop_topic = function("delete msg.topic;\nreturn msg;", [no_address["id"]])
    outs = [read_only["id"], no_address["id"]]
    node_red.deploy([tab(), core(edge.base, token),
                     smarthome_in("core1", "sim_a.soc", [read_only["id"], drop_topic["id"]]),
                     drop_topic, read_only, no_address,
                     status_of(outs, [statuses.id]), catch_of(outs, [errors.id]),
                     *statuses.nodes, *errors.nodes])

    def failed(node_id: str, *words: str) -> bool:
        return (any(s["source"] == node_id and s["fill"] == "red"
                    and all(w in s["text"] for w in words) for s in statuses.lines())
                and any(e["source"] == node_id and all(w in e["message"] for w in words)
                        for e in errors.lines()))

    node_red.wait_for(lambda: failed(read_only["id"], "409", "read-only"), 20,
                      "the refused write in status and catch")
    node_red.wait_for(lambda: failed(no_address["id"], "no address"), 20,
                      "the missing address in status and catch")
    for e in errors.lines():  # catch gets the message that failed
        wanted = "sim_a.soc" if e["source"] == read_only["id"] else None
        assert e.get("topic") == wanted and isinstance(e["payload"], int | float), e
    assert value(edge, "sim_a.soc")["ack"] is True  # nothing was written


def test_in_shows_a_refused_token_and_a_bad_pattern(node_red: NodeRed, edge: WebDaemon,
                                                    token: str, tmp_path: Path) -> None:
    statuses = JsonLines(tmp_path / "status.jsonl", STATUS_FIELDS)
    received = JsonLines(tmp_path / "msgs.jsonl", MSG_FIELDS)
    refused = smarthome_in("core1", "sim_a.soc", [received.id])
    headless = smarthome_in("core2", "*.soc", [received.id])
    node_red.deploy([tab(), core(edge.base, "eos_not_a_token"),
                     core(edge.base, token, node_id="core2"), refused, headless,
                     status_of([refused["id"]], [statuses.id]),
                     *statuses.nodes, *received.nodes])

    node_red.wait_for(lambda: any(s["source"] == refused["id"] and s["fill"] == "red"
                                  and "unauthorized" in s["text"] for s in statuses.lines()),
                      20, "an unauthorized status")
    # set while the flow starts, before status nodes listen: the log (and editor) show it
    node_red.wait_for(lambda: re.search(rf"\[error\] \[smarthome-in:{headless['id']}\] "
                                        r"'\*\.soc' must start with an instance id",
                                        node_red.log_text()), 20, "the bad pattern in the log")
    assert received.lines() == []


def test_in_reconnects_after_the_core_restarts(node_red: NodeRed, edge: WebDaemon,
                                               token: str, tmp_path: Path) -> None:
    statuses = JsonLines(tmp_path / "status.jsonl", STATUS_FIELDS)
    received = JsonLines(tmp_path / "msgs.jsonl", MSG_FIELDS)
    watched = smarthome_in("core1", "sim_a.soc", [received.id])
    node_red.deploy([tab(), core(edge.base, token), watched,
                     status_of([watched["id"]], [statuses.id]),
                     *statuses.nodes, *received.nodes])
    node_red.wait_for(lambda: received.lines(), 20, "values before the restart")
    ui_pid = edge.d.instance("admin-ui")["pid"]
    edge.d.call("kill", id="admin-ui")  # the UI process dies; the supervisor restarts it
    edge.d.wait_for(lambda: edge.d.instance("admin-ui")["pid"] not in (None, ui_pid), 20,
                    "a new admin-ui process")

    def reconnected() -> bool:
        """The status went connected -> disconnected... -> connected."""
        shown = [s["text"] for s in statuses.lines()]
        if "connected" not in shown:
            return False
        after = shown[shown.index("connected") + 1:]
        lost = next((i for i, t in enumerate(after) if t.startswith("disconnected")), None)
        return lost is not None and "connected" in after[lost + 1:]

    node_red.wait_for(reconnected, 30, "connected, disconnected, connected again")
    count = len(received.lines())
    node_red.wait_for(lambda: len(received.lines()) > count, 20, "values after reconnecting")
