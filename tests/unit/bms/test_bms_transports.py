"""The transport factory the bms worker uses, and the package's light import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from edgeos.workers.bms.protocols import Options
from edgeos.workers.bms.transports import create, options_from
from edgeos.workers.bms.transports.ble import BleTransport, VictronAdvertisements
from edgeos.workers.bms.transports.serial import SerialTransport

REPO = Path(__file__).resolve().parents[3]


def test_serial_from_instance_config() -> None:
    transport = create(
        {"transport": "serial", "protocol": "daly", "serial_port": "loop://", "timeout_s": 0.5}
    )
    assert isinstance(transport, SerialTransport)
    assert (transport.baudrate, transport.timeout) == (9600, 0.5)
    ant = create({"transport": "serial", "protocol": "ant", "serial_port": "x", "baudrate": 9600})
    assert isinstance(ant, SerialTransport) and ant.baudrate == 9600


def test_ble_from_instance_config() -> None:
    transport = create({"transport": "ble", "protocol": "jbd", "address": "A4:C1:38:00:00:01"})
    assert isinstance(transport, BleTransport)
    victron = create(
        {
            "transport": "ble",
            "protocol": "victron",
            "address": "aa:bb:cc:dd:ee:ff",
            "key": "aff4d0995b7d1e176c0c33ecb9e70dcd",
        }
    )
    assert isinstance(victron, VictronAdvertisements)
    assert victron.address == "AA:BB:CC:DD:EE:FF" and victron.options.key[0] == 0xAF


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"transport": "usb", "protocol": "jbd"}, "must be 'serial' or 'ble'"),
        ({"transport": "serial", "protocol": "jk"}, "unknown BMS protocol"),
        ({"transport": "serial", "protocol": "victron", "serial_port": "x"}, "only advertises"),
        ({"transport": "ble", "protocol": "daly", "address": "x", "daly_current_sign": 2}, "sign"),
    ],
)
def test_bad_configs(config: dict, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        create(config)


def test_options_from_config() -> None:
    assert options_from({}) == Options()
    assert options_from({"daly_current_sign": -1, "ant_variant": "legacy", "key": "00" * 16}) == (
        Options(key=bytes(16), daly_current_sign=-1, ant_variant="legacy")
    )


def test_importing_the_package_loads_no_device_library() -> None:
    code = (
        "import sys, edgeos.workers.bms, edgeos.workers.bms.transports,"
        " edgeos.workers.bms.reassembly;"
        "from edgeos.workers.bms import decode;"
        "decode('jbd', [bytes.fromhex('DD0400080F450F3D0F370F3DFEC677')]);"
        "print(sorted({m.split('.')[0] for m in sys.modules}"
        " & {'bleak', 'serial', 'cryptography'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_timeouts_default_per_kind_and_can_be_set() -> None:
    victron = create({"transport": "ble", "protocol": "victron", "address": "x", "key": "00" * 16})
    jbd = create({"transport": "ble", "protocol": "jbd", "address": "x", "timeout_s": 4})
    assert (victron.timeout, jbd.timeout) == (10.0, 4.0)


def test_key_must_be_hex() -> None:
    with pytest.raises(ValueError, match="key must be the device key as hex"):
        options_from({"key": "not-a-key"})
