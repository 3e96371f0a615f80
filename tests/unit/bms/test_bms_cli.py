"""``python -m edgeos.workers.bms decode`` as a user runs it: JSON on stdout, exit 1 with a
reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bms_unit_support import load_vectors
from edgeos.workers.bms.__main__ import group_arguments, main, parse_hex
from test_bms_vectors import check_expected

REPO = Path(__file__).resolve().parents[3]
VECTORS = {v["id"]: v for v in load_vectors()}
SHUNT = VECTORS["victron_smartshunt_battery_monitor"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edgeos.workers.bms", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_jbd_basic_and_cells_merge_into_one_object() -> None:
    result = run_cli(
        "decode",
        "--protocol",
        "jbd",
        VECTORS["jbd_basic_4s_sp04s034"]["frame_hex"],
        VECTORS["jbd_cells_4s_sp04s034"]["frame_hex"],
    )
    assert result.returncode == 0, result.stderr
    reading = json.loads(result.stdout)
    assert result.stdout.count("\n") == 1
    assert reading["voltage"] == 15.6 and reading["cells.1"] == 3.909
    assert reading["temperatures.1"] == 22.4 and reading["charge_mos"] is True
    assert reading["alarms.short_circuit"] is False


def test_capture_separators_and_one_byte_arguments() -> None:
    capture = "DD:04:00:08:0F:45:0F:3D:0F:37:0F:3D:FE:C6:77"
    bytewise = capture.split(":")
    dotted = VECTORS["jbd_basic_4s_sp04s034"]["frame_hex"].replace(" ", ".")
    result = run_cli("decode", "--protocol", "jbd", dotted, *bytewise)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cells.4"] == 3.901


def test_corrupt_frame_exits_1_with_the_reason() -> None:
    frame = VECTORS["jbd_cells_4s_sp04s034"]["frame_hex"].replace("FE C6", "FE C7")
    result = run_cli("decode", "--protocol", "jbd", frame)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "checksum mismatch" in result.stderr


def test_victron_with_key() -> None:
    result = run_cli(
        "decode", "--protocol", "victron", "--key", SHUNT["key_hex"], SHUNT["advertisement_hex"]
    )
    assert result.returncode == 0, result.stderr
    reading = json.loads(result.stdout)
    assert (reading["voltage"], reading["soc"], reading["current"]) == (12.53, 50.0, 0.0)


def test_victron_without_key_exits_1() -> None:
    result = run_cli("decode", "--protocol", "victron", SHUNT["advertisement_hex"])
    assert result.returncode == 1 and "key" in result.stderr


def test_usage_errors_exit_2() -> None:
    assert run_cli("decode", "--protocol", "jk", "DD").returncode == 2
    assert run_cli("decode", "--protocol", "victron", "--key", "00", "10").returncode == 2


WHOLE = [v for v in VECTORS.values() if v["kind"] != "victron_ble" or "advertisement_hex" in v]


@pytest.mark.parametrize("vector", WHOLE, ids=[v["id"] for v in WHOLE])
def test_every_whole_vector_through_main(vector: dict, capsys) -> None:
    if "advertisement_hex" in vector:
        argv = ["--key", vector["key_hex"], vector["advertisement_hex"]]
        protocol = "victron"
    else:
        argv = vector.get("frames_hex") or [vector["frame_hex"]]
        protocol = vector["kind"]
    assert main(["decode", "--protocol", protocol, *argv]) == 0
    check_expected(vector, json.loads(capsys.readouterr().out))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("DD A5 03", b"\xdd\xa5\x03"),
        ("dd:a5:03", b"\xdd\xa5\x03"),
        ("DD.A5.03", b"\xdd\xa5\x03"),
        ("dda503", b"\xdd\xa5\x03"),
        ("0xDD 0xA5, 0x03", b"\xdd\xa5\x03"),
        (" DD-A5-03\n", b"\xdd\xa5\x03"),
    ],
)
def test_parse_hex(text: str, expected: bytes) -> None:
    assert parse_hex(text) == expected


@pytest.mark.parametrize("text", ["", "DD A", "XX", "DD.04.00.XX", "DDG0"])
def test_parse_hex_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hex(text)


def test_group_arguments() -> None:
    assert group_arguments(["DD", "A5", "0304", "77", "01"]) == [
        b"\xdd\xa5",
        b"\x03\x04",
        b"\x77\x01",
    ]


def test_poll_reports_a_silent_device() -> None:
    result = run_cli("poll", "--protocol", "jbd", "--serial-port", "loop://", "--timeout", "0.2")
    assert result.returncode == 1
    assert "did not answer DD A5 03 00 FF FD 77 within 0.2 s" in result.stderr
