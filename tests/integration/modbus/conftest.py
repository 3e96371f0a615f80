"""Modbus peers as fixtures: a pymodbus TCP server, a pty serial line with an RTU server."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.integration.modbus.peers import PtyLine, ServerThread


@pytest.fixture(autouse=True)
def _quiet_pymodbus() -> None:
    # the peers log every dropped connection and bad frame we provoke on purpose
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


@pytest.fixture
def tcp_server() -> Iterator[ServerThread]:
    server = ServerThread([1, 7]).start()
    yield server
    server.close()


@pytest.fixture
def pty_line() -> Iterator[PtyLine]:
    line = PtyLine()
    yield line
    line.close()


@pytest.fixture
def rtu_server(pty_line: PtyLine) -> Iterator[ServerThread]:
    server = ServerThread([1, 2], serial_port=pty_line.server_port).start()
    yield server
    server.close()
