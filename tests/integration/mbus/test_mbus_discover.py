"""M-Bus discovery against the meter emulator process on a pty: a primary address scan
and a secondary address search that must resolve collisions (several meters share the
first ID digits), alone and as a job of the daemon through edgectl."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.mbus.test_mbus_worker import Emulator

#: name -> primary address; ids 06855817, 08006491, 00032629 share a first digit, as do
#: 14839120 and 11127667, so the secondary search must go deeper twice
METERS = {"kamstrup_multical_601": 5, "siemens_wfh21": 7, "EMU_EMU-Professional-375-M-Bus": 20,
          "kamstrup_382_005": 30, "itron_cf_55": 31}
IDS = {"6855817": "KAM", "8006491": "LSE", "32629": "EMU", "14839120": "KAM",
       "11127667": "ACW"}


@pytest.fixture
def line(tmp_path: Path, testdata: Path) -> Iterator[Path]:
    link = tmp_path / "ttyMBUS"
    emulator = Emulator(link, testdata, METERS)
    yield link
    emulator.stop()


def run_discover(*args: str) -> tuple[list[dict[str, Any]], int]:
    done = subprocess.run([sys.executable, "-m", "edgeos.workers.mbus.discover", *args],
                          capture_output=True, text=True, timeout=120)
    return [json.loads(x) for x in done.stdout.splitlines()], done.returncode


def test_primary_scan_finds_every_meter_with_its_records(line: Path) -> None:
    lines, code = run_discover(str(line), "--addresses", "0-40", "--timeout", "0.1")
    assert code == 0
    result = lines[-1]["result"]
    assert [m["address"] for m in result["meters"]] == [5, 7, 20, 30, 31]
    assert {m["id"]: m["manufacturer"] for m in result["meters"]} == IDS
    heat = result["meters"][0]
    assert heat["medium"] == "Heat: Outlet" and len(heat["records"]) == 28
    assert result["connection"]["config"]["meters"] == [{"address": a}
                                                        for a in (5, 7, 20, 30, 31)]
    assert [f["found"]["address"] for f in lines if "found" in f] == [5, 7, 20, 30, 31]


def test_secondary_search_resolves_collisions(line: Path) -> None:
    lines, code = run_discover(str(line), "--mode", "secondary", "--timeout", "0.1")
    assert code == 0
    result = lines[-1]["result"]
    assert {m["id"]: m["manufacturer"] for m in result["meters"]} == IDS
    assert {m["secondary"] for m in result["meters"]} >= {"068558172D2C0804",
                                                          "00032629B5151002"}
    # 10 probes at the first digit, 10 below "0" and 10 below "1"
    assert result["probes"] == 30
    assert [e["secondary"] for e in result["connection"]["config"]["meters"]] == \
        [m["secondary"] for m in result["meters"]]


def test_a_mask_narrows_the_search_to_one_manufacturer(line: Path) -> None:
    lines, _ = run_discover(str(line), "--mode", "secondary", "--mask", "FFFFFFFF2D2CFFFF",
                            "--timeout", "0.1")
    assert sorted(m["id"] for m in lines[-1]["result"]["meters"]) == ["14839120", "6855817"]


def test_bad_arguments_are_refused_naming_them(line: Path) -> None:
    for args, words in [(["--addresses", "0-251"], "0-250"),
                        (["--mode", "secondary", "--mask", "XYZ"], "16 hex digits"),
                        (["--baudrate", "1234"], "not an M-Bus baud rate")]:
        lines, code = run_discover(str(line), *args)
        assert code == 2 and words in lines[0]["error"], (args, lines)
    lines, code = run_discover("/nonexistent/tty", "--addresses", "1")
    assert code == 1 and "/nonexistent/tty" in lines[-1]["error"]


def test_edgectl_discover_mbus_through_the_daemon(daemon_factory: Any, line: Path) -> None:
    d = daemon_factory([]).start()
    done = d.ctl("--json", "discover", "mbus", str(line), "--secondary",
                 "--request-timeout", "0.1")
    assert done.returncode == 0, done.stderr
    meters = json.loads(done.stdout)["meters"]
    assert sorted(m["id"] for m in meters) == sorted(IDS)


def test_edgectl_prints_the_meters_for_a_person(daemon_factory: Any, line: Path) -> None:
    d = daemon_factory([]).start()
    text = d.ctl("discover", "mbus", str(line), "--addresses", "5-7",
                 "--request-timeout", "0.1")
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines() == [
        "address   5: id 6855817 KAM Heat: Outlet, 28 records",
        "address   7: id 8006491 LSE Warm water (30-90°C), 11 records"]
