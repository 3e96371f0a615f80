"""Config validation in the helper process (issue 16: jsonschema and importlib.metadata
stay out of the supervisor): same answers as in-process, for schemas and the worker
type scan; a crash is raised not swallowed, a killed helper is replaced, and an idle
helper is ended and reaped. Real helper processes."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator

import pytest
from edgeos.common import schemas
from edgeos.supervisor.validator_process import ValidatorProcess
from edgeos.workers import registry

BAD_SETTINGS = {"limits": {"nice": "high"}, "log_level": 7}
SCHEMA = {"type": "object", "properties": {"port": {"type": "integer", "maximum": 65535}},
          "required": ["port"]}


@pytest.fixture
def helper() -> Iterator[ValidatorProcess]:
    check = ValidatorProcess()
    yield check
    check.close()


def test_answers_as_in_process(helper: ValidatorProcess) -> None:
    for doc in (BAD_SETTINGS, {}, {"limits": {"nice": 3}}, b"bytes from an RPC"):
        assert helper("edgeos", doc) == schemas.errors("edgeos", doc)
    for doc in ({"port": 70000}, {}, {"port": 10**400}, {"port": 502}):
        assert helper(SCHEMA, doc) == schemas.validate_against(SCHEMA, doc)
    assert helper(SCHEMA, {"port": 70000}) == ["port: 70000 is greater than the maximum "
                                               "of 65535"]


def test_validate_elsewhere_routes_every_validation(helper: ValidatorProcess) -> None:
    schemas.validate_elsewhere(helper)
    try:
        assert schemas.errors("edgeos", BAD_SETTINGS)
        assert schemas.validate_against(SCHEMA, {}) == ["(top level): 'port' is a required "
                                                        "property"]
        assert helper.proc is not None  # asked the helper, not this process
    finally:
        schemas.validate_elsewhere(None)


def test_worker_types_as_scanned_in_process(helper: ValidatorProcess, tmp_path) -> None:
    assert helper.worker_types(None) == registry.scan(None)
    assert helper.worker_types(tmp_path) == registry.scan(tmp_path)  # no plugins there
    assert "simulator" in helper.worker_types(None)
    registry.scan_elsewhere(helper.worker_types)
    try:
        assert registry.entry("simulator") == "edgeos.workers.simulator.worker:SimulatorWorker"
    finally:
        registry.scan_elsewhere(None)


def test_a_broken_schema_is_raised_with_the_helpers_traceback(
        helper: ValidatorProcess) -> None:
    with pytest.raises(RuntimeError, match=r"validate failed in the helper process:\n.*Traceback"):
        helper({"type": "no-such-type"}, {})
    assert helper(SCHEMA, {"port": 1}) == []  # and the helper still answers


def test_a_killed_helper_is_replaced(helper: ValidatorProcess) -> None:
    assert helper(SCHEMA, {"port": 1}) == []
    assert helper.proc is not None
    first = helper.proc.pid
    os.kill(first, signal.SIGKILL)
    helper.proc.wait(5)
    assert helper(SCHEMA, {}) == ["(top level): 'port' is a required property"]
    assert helper.proc.pid != first


def test_an_idle_helper_is_ended_and_reaped() -> None:
    async def run() -> None:
        check = ValidatorProcess(idle_s=0.2)
        assert check(SCHEMA, {"port": 1}) == []
        proc = check.proc
        assert proc is not None and proc.poll() is None
        await asyncio.sleep(0.6)
        assert check.proc is None
        assert proc.returncode == 0  # it saw EOF and left; waited for, so no zombie
        assert check(SCHEMA, {}) != []  # the next load starts a new one
        check.close()

    asyncio.run(run())
