"""The shipped SunSpec map, unchanged but for the address, against an inverter image
served by pymodbus: scale factors, "not implemented" values, strings, a write."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymodbus.client import ModbusTcpClient

from tests.integration.modbus.peers import ServerThread

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "examples" / "sunspec_inverter.json"
N16 = 0x8000  # int16 / sunssf "not implemented"


def text(value: str, count: int) -> list[int]:
    return ModbusTcpClient.convert_to_registers(value.ljust(2 * count, "\0"),
                                                ModbusTcpClient.DATATYPE.STRING)


def s16(v: int) -> int:
    return v & 0xFFFF


IMAGE: dict[int, list[int]] = {
    40000: text("SunS", 2), 40002: [1, 66],
    40004: text("Fronius", 16), 40020: text("Symo 10.0-3-M", 16), 40036: text("", 8),
    40044: text("3.2.4", 8), 40052: text("30123456", 16), 40068: [1, N16],
    40070: [103, 50],
    40072: [2350, 784, 783, 783, s16(-2)],  # A, AphA..C, A_SF
    40077: [0xFFFF, 0xFFFF, 0xFFFF],  # line-to-line voltages: not implemented
    40080: [2301, 2299, 2305, s16(-1)],  # PhVphA..C, V_SF
    40084: [5123, 0, 5001, s16(-2), 5200, 0, s16(-300), 0, 985, s16(-1)],
    40094: [0x00BC, 0x614E, 0],  # WH = 12345678, WH_SF
    40097: [1200, s16(-2), 6100, s16(-1), 5300, 0],  # DCA, DCV, DCW with scale factors
    40103: [452, N16, N16, N16, s16(-1)],  # TmpCab, others not implemented, Tmp_SF
    40108: [4, 0xFFFF, 0, 0, 0, 1, 0xFFFF, 0xFFFF],  # St, StVnd, Evt1, Evt2 = 1, EvtVnd1
    40116: [0xFFFF] * 6,
}
EXPECTED: dict[str, Any] = {
    "sunspec.marker": "SunS", "common.Mn": "Fronius", "common.Md": "Symo 10.0-3-M",
    "common.Vr": "3.2.4", "common.SN": "30123456", "common.DA": 1, "inverter.ID": 103,
    "inverter.A": 23.5, "inverter.AphA": 7.84, "inverter.PhVphB": 229.9, "inverter.W": 5123,
    "inverter.Hz": 50.01, "inverter.VAr": -300, "inverter.PF": 98.5,
    "inverter.WH": 12345678, "inverter.DCA": 12.0, "inverter.DCV": 610.0,
    "inverter.TmpCab": 45.2, "inverter.St": 4, "inverter.Evt2": 1, "inverter.A_SF": -2,
}
ABSENT = ["inverter.PPVphAB", "inverter.TmpSnk", "inverter.StVnd", "inverter.EvtVnd1"]


@pytest.fixture
def inverter() -> Iterator[ServerThread]:
    server = ServerThread([1], registers=40200).start()
    for address, regs in IMAGE.items():
        server.set("holding", address, regs)
    yield server
    server.close()


def test_sunspec_map_reads_an_inverter(daemon_factory, inverter: ServerThread) -> None:
    entry = json.loads(EXAMPLE.read_text(encoding="utf-8"))["connections"][0]
    # SunSpec devices commonly accept only function 16 for writes
    entry["config"].update(host="127.0.0.1", port=inverter.port, poll_interval_s=0.1,
                           write_multiple=True)
    d = daemon_factory([entry]).start()

    def get(name: str) -> dict[str, Any]:
        return d.call("get", address=f"inverter_1.{name}")

    d.wait_for(lambda: get("inverter.W")["quality"] == "good", what="inverter read")
    d.wait_for(lambda: get("common.SN")["quality"] == "good", what="common model read")
    assert {name: get(name)["value"] for name in EXPECTED} == EXPECTED
    for name in ABSENT:
        assert (get(name)["value"], get(name)["quality"]) == (None, "uncertain"), name
    w = get("inverter.W")
    assert w["unit"] == "W" and w["meta"]["device_class"] == "power"
    assert d.instance("inverter_1")["bus"]["read_requests"] == 2
    assert {(3, 40000, 69), (3, 40070, 52)} <= {r[1:] for r in inverter.requests}

    d.call("set", address="inverter_1.common.DA", value=3)
    d.wait_for(lambda: get("common.DA")["value"] == 3, what="device address written")
    assert inverter.get("holding", 40068) == [3]
    assert (1, 16, 40068, 1) in inverter.requests
