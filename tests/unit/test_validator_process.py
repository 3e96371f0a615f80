"""Config validation in the helper process (issue 16: jsonschema and importlib.metadata
stay out of the supervisor): same answers as in-process, for schemas, the worker type
scan, the route commands' check and the node keys; a crash is raised not swallowed, a
killed helper is replaced, and an idle helper is ended and reaped. Real helper
processes."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from edgeos.common import schemas
from edgeos.ipc.routing import check_routes, refused_routes
from edgeos.ipc.rpc import BAD_REQUEST, RpcError
from edgeos.ipc.satellite import keys
from edgeos.supervisor import route_check
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
        await asyncio.sleep(0.3)
        assert check.proc is None  # ended by the idle timer, without waiting for it
        for _ in range(200):  # its exit is reaped on the loop when its pidfd says so
            if proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert proc.returncode == 0  # it saw EOF and left; reaped, so no zombie
        assert not Path(f"/proc/{proc.pid}").exists()
        assert check(SCHEMA, {}) != []  # the next load starts a new one
        check.close()

    asyncio.run(run())


ROUTE_IDS = ["plc_001", "plc_002"]
CYCLE = {"version": "1.0", "routes": [
    {"id": "there", "from": "plc_001.a", "to": "plc_002.b"},
    {"id": "back", "from": "plc_002.b", "to": "plc_001.a"}]}
UNKNOWN_TARGET = {"version": "1.0", "routes": [
    {"id": "r1", "from": "plc_001.a", "to": "nobody.b"},
    {"id": "r1", "from": "plc_001.a", "to": "plc_002.b", "transform": "scale("}]}


def test_route_checks_answer_as_in_process(helper: ValidatorProcess) -> None:
    """The route commands' check (supervisor/route_check.py) gives the same warnings and
    the same refusal in the helper as the broker's check_routes in this process."""
    for doc in (CYCLE, UNKNOWN_TARGET, {"routes": "no list"}, {}, b"bytes"):
        assert helper.routes(doc, ROUTE_IDS) == route_check.outcome(doc, ROUTE_IDS)
    warnings, refusal = helper.routes(CYCLE, ROUTE_IDS)
    assert refusal is None and len(warnings) == 1 and "form a cycle" in warnings[0]
    warnings, refusal = helper.routes(UNKNOWN_TARGET, ROUTE_IDS)
    assert warnings == [] and refusal is not None
    message, code, detail = refusal
    assert (message, code) == ("invalid routing.json, routes unchanged", BAD_REQUEST)
    assert len(detail) >= 2 and any("nobody" in line for line in detail)


def test_check_elsewhere_raises_the_refusal_of_refused_routes(helper: ValidatorProcess) -> None:
    with pytest.raises(RpcError) as in_process, refused_routes():
        check_routes(UNKNOWN_TARGET, ROUTE_IDS)
    route_check.check_elsewhere(helper.routes)
    try:
        with pytest.raises(RpcError) as elsewhere:
            route_check.warnings(UNKNOWN_TARGET, ROUTE_IDS)
        assert helper.proc is not None  # asked the helper, not this process
        assert route_check.warnings(CYCLE, ROUTE_IDS) == check_routes(CYCLE, ROUTE_IDS).warnings
    finally:
        route_check.check_elsewhere(None)
    assert (str(elsewhere.value), elsewhere.value.code, elsewhere.value.detail) == \
        (str(in_process.value), in_process.value.code, in_process.value.detail)


def test_schema_checks_answer_as_in_process(helper: ValidatorProcess) -> None:
    """A plugin's config schema (supervisor/plugins.py) is checked in the helper with
    jsonschema's own message."""
    for doc in ({"type": "nonsense"}, {"minimum": "x"}, SCHEMA, {}, True):
        assert helper.schema_problem(doc) == schemas.schema_problem(doc)
    assert schemas.schema_problem(SCHEMA) is None
    assert "'nonsense' is not valid under any of the given schemas" in \
        helper.schema_problem({"type": "nonsense"})
    schemas.check_schemas_elsewhere(helper.schema_problem)
    try:
        assert schemas.schema_problem({"minimum": "x"}) == "'x' is not of type 'number'"
        assert helper.proc is not None  # asked the helper, not this process
    finally:
        schemas.check_schemas_elsewhere(None)


def test_node_keys_are_made_and_checked_in_the_helper(helper: ValidatorProcess,
                                                      tmp_path: Path) -> None:
    """The start-up's key check (supervisor/cli.py): made on a first start, loaded on
    the next, a broken secret file answered with the message the daemon prints."""
    assert helper.node_keys(tmp_path) is None
    secret = keys.keys_dir(tmp_path) / f"{keys.NODE}.key_secret"
    public = keys.load_node_keys(tmp_path)[0]
    assert helper.node_keys(tmp_path) is None
    assert keys.load_node_keys(tmp_path)[0] == public  # made once
    assert oct(secret.stat().st_mode & 0o777) == "0o600"
    secret.write_text("no key here\n")
    problem = helper.node_keys(tmp_path)
    assert problem is not None and problem.startswith(f"{secret}: ")
    with pytest.raises(keys.KeyFileError) as raised:
        keys.ensure_node_keys(tmp_path)
    assert problem == str(raised.value)
