"""The modbus worker in a real daemon against pymodbus's own TCP server.

Expected registers come from pymodbus's converters (plus a byte swap written out
here), not from the worker's codec, so a codec bug cannot agree with itself.
"""

from __future__ import annotations

from typing import Any

from pymodbus.client import ModbusTcpClient

from tests.integration.modbus.peers import ServerThread

ORDERS = [("big", "big"), ("little", "big"), ("big", "little"), ("little", "little")]
# type -> (value the device holds, value we write)
VALUES: dict[str, tuple[Any, Any]] = {
    "int16": (-1234, 4321), "uint16": (65000, 7),
    "int32": (-123456789, 2_000_000_000), "uint32": (4_000_000_000, 1),
    "int64": (-(2**40) + 3, 2**50 + 1), "uint64": (2**63 + 5, 42),
    "float32": (3.25, -1234.5), "float64": (-1234567.890123, 1e-9),
    "string": ("Hello", "EdgeOS!"),
}
STRING_REGS = 4


def expected_registers(value: Any, type_: str, word_order: str, byte_order: str) -> list[int]:
    dt = ModbusTcpClient.DATATYPE
    if type_ == "string":  # strings keep register order: word_order does not apply
        regs = ModbusTcpClient.convert_to_registers(value.ljust(2 * STRING_REGS, "\0"),
                                                    dt.STRING)
    else:
        regs = ModbusTcpClient.convert_to_registers(value, dt[type_.upper()],
                                                    word_order=word_order)  # type: ignore[arg-type]
    if byte_order == "little":
        regs = [((r & 0xFF) << 8) | (r >> 8) for r in regs]
    return regs


def typed_map() -> list[dict[str, Any]]:
    """Every type in every word/byte order, writable, packed one after the other."""
    out, address = [], 0
    for type_ in VALUES:
        for wo, bo in ORDERS:
            entry = {"name": f"{type_}.{wo}_{bo}", "address": address, "type": type_,
                     "word_order": wo, "byte_order": bo, "writable": True}
            if type_ == "string":
                entry["count"] = STRING_REGS
            out.append(entry)
            address += len(expected_registers(VALUES[type_][0], type_, wo, bo))
    return out


def modbus(iid: str, port: int, registers: list[dict[str, Any]], **config: Any) -> dict:
    return {"id": iid, "type": "modbus",
            "config": {"host": "127.0.0.1", "port": port, "poll_interval_s": 0.1,
                       "timeout_s": 0.3, "registers": registers, **config}}


def get(d: Any, address: str) -> dict[str, Any]:
    return d.call("get", address=address)


def all_good(d: Any, iid: str, names: list[str]) -> bool:
    return all(get(d, f"{iid}.{n}")["quality"] == "good" for n in names)


def test_every_type_and_order_reads_and_writes(daemon_factory, tcp_server: ServerThread) -> None:
    registers = typed_map()
    for entry in registers:
        held = VALUES[entry["type"]][0]
        tcp_server.set("holding", entry["address"], expected_registers(
            held, entry["type"], entry["word_order"], entry["byte_order"]))
    extra = [
        {"name": "power", "function": "input", "address": 10, "type": "int32", "scale": 0.1,
         "unit": "W"},
        {"name": "door", "function": "discrete", "address": 5},
        {"name": "relay", "function": "coil", "address": 9, "writable": True},
        {"name": "setpoint", "address": 300, "type": "int16", "scale": 0.5, "unit": "°C",
         "writable": True},
    ]
    tcp_server.set("input", 10, expected_registers(-12345, "int32", "big", "big"))
    tcp_server.set("discrete", 5, [True])
    tcp_server.set("holding", 300, [43])
    d = daemon_factory([modbus("mb_1", tcp_server.port, registers + extra)]).start()
    names = [e["name"] for e in registers + extra]
    d.wait_for(lambda: all_good(d, "mb_1", names), what="every point good")

    # one request per table and interval, each as long as the map: what the server saw
    held = sum(len(expected_registers(VALUES[e["type"]][0], e["type"], "big", "big"))
               for e in registers)
    tcp_server.requests.clear()
    d.wait_for(lambda: len(tcp_server.requests) >= 15, what="three polls")
    assert set(tcp_server.requests) == {(1, 3, 0, held), (1, 3, 300, 1), (1, 4, 10, 2),
                                        (1, 2, 5, 1), (1, 1, 9, 1)}

    for entry in registers:
        assert get(d, f"mb_1.{entry['name']}")["value"] == VALUES[entry["type"]][0], entry
    power = get(d, "mb_1.power")
    assert (power["value"], power["unit"], power["ack"]) == (-1234.5, "W", True)
    assert get(d, "mb_1.door")["value"] is True
    assert get(d, "mb_1.relay")["value"] is False
    assert get(d, "mb_1.setpoint")["value"] == 21.5

    for entry in registers:
        name, (_, new) = entry["name"], VALUES[entry["type"]]
        d.call("set", address=f"mb_1.{name}", value=new)
        d.wait_for(lambda n=name, v=new: (e := get(d, f"mb_1.{n}"))["value"] == v and e["ack"],
                   what=f"{name} read back")
        want = expected_registers(new, entry["type"], entry["word_order"], entry["byte_order"])
        assert tcp_server.get("holding", entry["address"], len(want)) == want, name

    d.call("set", address="mb_1.relay", value=True)
    d.wait_for(lambda: get(d, "mb_1.relay")["value"] is True, what="coil read back")
    assert tcp_server.get("coil", 9) == [True]
    d.call("set", address="mb_1.setpoint", value=22.5)
    d.wait_for(lambda: get(d, "mb_1.setpoint")["value"] == 22.5, what="scaled write")
    assert tcp_server.get("holding", 300) == [45]

    # the bus figures reach the heartbeat: grouped reads, rates, latency. A rate is news
    # once two looks agree (ipc/heartbeat.py): a period's beat in between sends the new
    # latency with the rates it sent before (0 from before the first poll), so wait
    bus = d.wait_for(lambda: (b := d.instance("mb_1")["bus"]).get("latency_ms")
                     and b["requests_per_s"] > 0 and b["registers_per_s"] > 0 and b,
                     what="bus stats with rates")
    assert bus["read_requests"] == 5  # holding 0.., holding 300, input, discrete, coil
    assert bus["transport"] == "tcp" and bus["connected"] is True
    assert bus["timeouts"] == bus["crc_errors"] == bus["exceptions"] == 0


def test_server_down_goes_bad_backs_off_and_recovers(daemon_factory,
                                                     tcp_server: ServerThread) -> None:
    tcp_server.set("holding", 0, [111, 222])
    regs = [{"name": "a", "address": 0, "writable": True}, {"name": "b", "address": 1}]
    d = daemon_factory([modbus("mb_1", tcp_server.port, regs, retries=1,
                               breaker={"failures": 2, "open_s": 0.3, "max_open_s": 0.6})]
                       ).start()
    d.wait_for(lambda: get(d, "mb_1.a")["value"] == 111, what="first read")

    tcp_server.stop()
    d.wait_for(lambda: all(get(d, f"mb_1.{n}")["quality"] == "bad" for n in "ab"),
               what="quality bad while the server is down")
    assert get(d, "mb_1.b")["value"] == 222  # the last value, marked bad, never stale good
    bus = d.wait_for(lambda: (b := d.instance("mb_1")["bus"])["breaker_opened"] >= 2 and b,
                     what="breaker opened and probed again")
    assert bus["connected"] is False and bus["connect_failures"] >= 2
    assert bus["retries"] >= 1 and bus["points_bad"] == 2
    inst = d.instance("mb_1")
    assert inst["status"] == "running" and "cannot connect to 127.0.0.1" in inst["last_error"]
    d.call("set", address="mb_1.a", value=999)  # refused: nothing queued for later
    d.wait_for(lambda: (e := d.instance("mb_1")["last_error"]).startswith("mb_1.a: ") and e,
               what="write refused while away")

    tcp_server.set("holding", 0, [333])  # changed while away: must show after recovery
    tcp_server.start()
    d.wait_for(lambda: (e := get(d, "mb_1.a"))["quality"] == "good" and e["value"] == 333,
               what="good again with the new value")
    assert get(d, "mb_1.b")["quality"] == "good"
    d.wait_for(lambda: (b := d.instance("mb_1")["bus"])["connected"]
               and b["breaker"] == "closed", what="breaker closed")


def test_unit_id_exception_responses_and_refused_writes(daemon_factory,
                                                        tcp_server: ServerThread) -> None:
    tcp_server.set("holding", 20, [5], unit_id=1)
    tcp_server.set("holding", 20, [7], unit_id=7)
    regs = [{"name": "mine", "address": 20},
            {"name": "missing", "address": 399, "type": "uint32"},  # runs past the device
            {"name": "ro", "address": 21}]
    d = daemon_factory([modbus("dev7", tcp_server.port, regs, unit_id=7)]).start()
    d.wait_for(lambda: get(d, "dev7.mine")["quality"] == "good", what="unit 7 read")
    assert get(d, "dev7.mine")["value"] == 7
    d.wait_for(lambda: get(d, "dev7.missing")["quality"] == "bad", what="refused block bad")
    bus = d.wait_for(lambda: (b := d.instance("dev7")["bus"])["exceptions"] > 0 and b,
                     what="exception counted")
    # the device answered: it is reachable and the breaker stays closed
    assert bus["connected"] is True and bus["breaker"] == "closed"
    assert "exception 2 (illegal_address)" in d.instance("dev7")["last_error"]

    result = d.call("set", address="dev7.ro", value=1)
    assert (result["outcome"], result["refusal"]) == ("refused", "read_only")
    d.wait_for(lambda: "dev7.ro is read-only" in (d.instance("dev7")["last_error"] or ""),
               what="read-only refusal")
    assert tcp_server.get("holding", 21, unit_id=7) == [0]


def test_out_of_range_write_lands_nothing_and_a_stop_marks_points_bad(
        daemon_factory, tcp_server: ServerThread) -> None:
    regs = [{"name": "sp", "address": 3, "type": "int16", "writable": True}]
    d = daemon_factory([modbus("mb_1", tcp_server.port, regs)]).start()
    d.wait_for(lambda: get(d, "mb_1.sp")["quality"] == "good", what="first read")
    result = d.call("set", address="mb_1.sp", value=40000)
    assert (result["outcome"], result["refusal"]) == ("refused", "bad_value")
    d.wait_for(lambda: "does not fit int16" in (d.instance("mb_1")["last_error"] or ""),
               what="range refusal")
    assert tcp_server.get("holding", 3) == [0]
    assert d.ctl("stop", "mb_1").returncode == 0
    sp = get(d, "mb_1.sp")
    assert (sp["value"], sp["quality"]) == (0, "bad")


def test_invalid_config_is_refused_with_its_path(daemon_factory) -> None:
    d = daemon_factory([{"id": "mb_1", "type": "modbus",
                         "config": {"transport": "rtu", "registers": [
                             {"name": "x", "address": 0, "function": "input",
                              "writable": True}]}}])
    d.start(wait=False)
    assert d.proc.wait(20) == 1
    out = d.daemon_log()
    assert "connections[0] (id 'mb_1'): config: 'serial_port' is a required property" in out
    assert "config.registers[0].function: 'input' is not one of ['holding', 'coil']" in out


def test_a_map_the_schema_cannot_judge_stops_the_worker_with_its_reason(daemon_factory) -> None:
    regs = [{"name": "a", "address": 0}, {"name": "a", "address": 1}]
    d = daemon_factory([modbus("mb_1", 1, regs)],
                       settings={"restart": {"base_s": 0.1, "flap_max": 2,
                                             "flap_window_s": 60}}).start(wait=False)
    d.wait_for(lambda: d.instance("mb_1")["status"] == "error", what="gave up")
    messages = [e["message"] for e in d.call("errors", id="mb_1")]
    assert "ValueError: mb_1: register map: registers[1] ('a'): duplicate name" in messages
