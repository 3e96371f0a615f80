"""`python -m edgeos.workers.mbus decode HEX` as a user runs it: a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

from mbus_testdata import MBUS_TESTDATA

from tests.paths import REPO

RECORD_KEYS = {"value", "unit", "quantity", "function", "storage", "tariff", "subunit"}


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgeos.workers.mbus", *args], cwd=REPO,
                          input=stdin,
                          capture_output=True, text=True, encoding="utf-8", timeout=30)


def test_decode_hex_with_spaces_as_in_capture_files() -> None:
    text = (MBUS_TESTDATA / "kamstrup_multical_601.hex").read_text()
    result = run_cli("decode", text)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["id"], data["manufacturer"], data["medium"]) == ("6855817", "KAM",
                                                                  "Heat: Outlet")
    assert len(data["records"]) == 28
    assert all(set(record) == RECORD_KEYS for record in data["records"])
    energy = data["records"][1]
    assert (energy["value"], energy["unit"], energy["quantity"]) == (37351000.0, "Wh", "Energy")
    assert data["records"][4]["unit"] == "°C"


def test_decode_hex_split_over_arguments_and_stdin() -> None:
    text = (MBUS_TESTDATA / "tecson.hex").read_text()
    split = run_cli("decode", *text.split())
    piped = run_cli("decode", "-", stdin=text)
    assert split.returncode == piped.returncode == 0
    assert json.loads(split.stdout) == json.loads(piped.stdout)


def test_bad_checksum_exits_1_with_reason() -> None:
    result = run_cli("decode", "68 03 03 68 08 01 72 00 16")
    assert result.returncode == 1
    assert "checksum" in result.stderr
    assert result.stdout == ""


def test_invalid_hex_exits_1() -> None:
    result = run_cli("decode", "68 zz")
    assert result.returncode == 1
    assert "invalid hex" in result.stderr


def test_missing_argument_is_a_usage_error() -> None:
    assert run_cli("decode").returncode == 2
