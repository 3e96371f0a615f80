"""Only the chosen transport's keys belong in a Modbus config (issue 19 item 9): the
schema says so with ``false`` branch schemas, the form reads the same rule, and the
supervisor's message names the key and why."""

from __future__ import annotations

import pytest
from edgeos.supervisor.config import ConfigError, Settings, validate_connections

REGS = [{"name": "t", "address": 0}]


def entry(config: dict) -> dict:
    return {"version": "1.0", "connections": [{"id": "mb", "type": "modbus",
                                               "config": {**config, "registers": REGS}}]}


@pytest.mark.parametrize(("config", "key"), [
    ({"host": "127.0.0.1", "baudrate": 9600}, "baudrate"),
    ({"transport": "tcp", "host": "127.0.0.1", "serial_port": "/dev/ttyUSB0"}, "serial_port"),
    ({"transport": "rtu", "serial_port": "/dev/ttyUSB0", "port": 502}, "port"),
    ({"transport": "rtu", "serial_port": "/dev/ttyUSB0", "host": "127.0.0.1"}, "host"),
])
def test_a_key_of_the_other_transport_is_refused_by_name(config: dict, key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        validate_connections(entry(config), Settings())
    assert [f"connections.json: connections[0] (id 'mb'): config.{key}: not used with the "
            "other settings chosen here (e.g. the transport): remove it"] == exc.value.errors


@pytest.mark.parametrize("config", [
    {"host": "127.0.0.1", "port": 1502},
    {"transport": "rtu", "serial_port": "/dev/ttyUSB0", "baudrate": 19200, "parity": "E",
     "bytesize": 8, "stopbits": 1},
])
def test_each_transport_with_its_own_keys_is_valid(config: dict) -> None:
    [instance] = validate_connections(entry(config), Settings())
    assert instance.config["registers"][0]["name"] == "t"
