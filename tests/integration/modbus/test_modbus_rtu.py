"""Modbus RTU through a real daemon: pymodbus's RTU server on one end of a pty cable.

Two instances share the line (separate processes, unit ids 1 and 2) and must take
turns: without the line lock their requests and answers interleave and show up as
CRC errors, timeouts and wrong values.
"""

from __future__ import annotations

from typing import Any

from tests.integration.modbus.peers import PtyLine, ServerThread


def rtu(iid: str, port: str, unit_id: int, registers: list[dict[str, Any]],
        **config: Any) -> dict[str, Any]:
    return {"id": iid, "type": "modbus",
            "config": {"transport": "rtu", "serial_port": port, "baudrate": 115200,
                       "unit_id": unit_id, "poll_interval_s": 0.02, "timeout_s": 0.3,
                       "registers": registers, **config}}


def get(d: Any, address: str) -> dict[str, Any]:
    return d.call("get", address=address)


MAP = [{"name": "counter", "address": 0, "type": "uint32"},
       {"name": "temp", "address": 2, "type": "float32", "word_order": "little",
        "unit": "°C", "writable": True},
       {"name": "name", "address": 4, "type": "string", "count": 3},
       {"name": "enable", "function": "coil", "address": 1, "writable": True}]


def test_two_instances_share_one_line_and_take_turns(daemon_factory, pty_line: PtyLine,
                                                     rtu_server: ServerThread) -> None:
    for unit in (1, 2):  # counter 1000/2000, 20.0 as float32 CDAB, "UIN1"/"UIN2"
        rtu_server.set("holding", 0, [0, unit * 1000, 0x0000, 0x41A0,
                                      0x5549, 0x4E00 | (0x30 + unit), 0], unit_id=unit)
    d = daemon_factory([rtu("bus_a", pty_line.client_port, 1, MAP, timeout_s=1),
                        rtu("bus_b", pty_line.client_port, 2, MAP, timeout_s=1)]).start()
    for iid in ("bus_a", "bus_b"):
        d.wait_for(lambda i=iid: get(d, f"{i}.temp")["quality"] == "good", what=f"{iid} good")
    assert [get(d, f"bus_a.{n}")["value"] for n in ("counter", "temp", "name")] == \
        [1000, 20.0, "UIN1"]
    assert [get(d, f"bus_b.{n}")["value"] for n in ("counter", "temp", "name")] == \
        [2000, 20.0, "UIN2"]

    d.call("set", address="bus_a.temp", value=-7.25)
    d.call("set", address="bus_b.enable", value=True)
    d.wait_for(lambda: get(d, "bus_a.temp")["value"] == -7.25, what="float write read back")
    d.wait_for(lambda: get(d, "bus_b.enable")["value"] is True, what="coil write read back")
    assert rtu_server.get("holding", 2, 2, unit_id=1) == [0x0000, 0xC0E8]
    assert rtu_server.get("holding", 2, 2, unit_id=2) == [0x0000, 0x41A0]
    assert rtu_server.get("coil", 1, unit_id=2) == [True]
    assert rtu_server.get("coil", 1, unit_id=1) == [False]

    # both polled the line hard for a while: every answer arrived whole and on time
    def busy() -> Any:
        stats = [d.instance(i)["bus"] for i in ("bus_a", "bus_b")]
        return all(s["responses"] >= 50 for s in stats) and stats
    for bus in d.wait_for(busy, what="many turns on the shared line"):
        assert bus["transport"] == "rtu" and bus["line_turns"] >= 25
        assert bus["timeouts"] == bus["crc_errors"] == bus["exceptions"] == 0, bus
        assert bus["connected"] is True and "line_wait_ms" in bus


def test_crc_errors_are_counted_retried_and_a_lost_device_goes_bad(
        daemon_factory, pty_line: PtyLine, rtu_server: ServerThread) -> None:
    rtu_server.set("holding", 0, [0, 42])
    regs = [{"name": "counter", "address": 0, "type": "uint32"}]
    d = daemon_factory([rtu("mb_1", pty_line.client_port, 1, regs, poll_interval_s=0.05,
                            retries=2, timeout_s=0.15,
                            breaker={"failures": 2, "open_s": 0.2, "max_open_s": 0.4})]
                       ).start()
    d.wait_for(lambda: get(d, "mb_1.counter")["value"] == 42, what="first read")

    pty_line.corrupt(2)  # two bad answers: the third try of that request gets through
    # (a heartbeat may fall between the second bad answer and the retry it causes)
    bus = d.wait_for(lambda: (b := d.instance("mb_1")["bus"])["crc_errors"] >= 2
                     and b["retries"] >= 2 and b, what="crc errors counted, retried")
    assert bus["timeouts"] == 0
    assert get(d, "mb_1.counter")["quality"] == "good"

    rtu_server.stop()  # the device falls silent: timeouts, then bad
    d.wait_for(lambda: get(d, "mb_1.counter")["quality"] == "bad", what="bad while silent")
    bus = d.wait_for(lambda: (b := d.instance("mb_1")["bus"])["timeouts"] >= 3 and b,
                     what="timeouts counted")
    assert bus["connected"] is False
    rtu_server.set("holding", 0, [0, 43])
    rtu_server.start()
    d.wait_for(lambda: (e := get(d, "mb_1.counter"))["quality"] == "good" and e["value"] == 43,
               what="good again")
