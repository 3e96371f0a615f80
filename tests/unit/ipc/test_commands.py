"""The command model (issue 14 item 3): arguments declared once, checked before a command
runs, every mistake a ``bad_request`` that names the argument; a bug after that is
``internal``; an unknown command has a code of its own."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, ClassVar

import pytest
from edgeos.ipc.commands import Arg, Command, find
from edgeos.ipc.rpc import (
    BAD_REQUEST,
    INTERNAL,
    NOT_FOUND,
    UNKNOWN_COMMAND,
    RpcError,
)

from tests.unit.ipc.test_rpc_errors import _serve


class Sample(Command):
    """A family of its own for these tests."""

    registry: ClassVar[dict[str, type[Command]]] = {}


class Lookup(Sample):
    """Look an address up."""

    name = "lookup"
    args = (Arg("address", required=True, least=1, most=20, help="where"),
            Arg("limit", "int", default=10, least=0, most=100),
            Arg("ratio", "float", default=0.5),
            Arg("flag", "bool", default=False),
            Arg("mode", choices=("fast", "slow"), default="fast"),
            Arg("table", "dict", most=2),
            Arg("value", "any"))

    async def execute(self, args: dict[str, Any]) -> Any:
        if args["address"] == "bug":
            return {}["missing"]  # the command's own bug, after its arguments passed
        if args["address"] == "none":
            raise RpcError("no such address", NOT_FOUND)
        return args


class OldStyle(Sample):
    """Declares nothing: its arguments pass as they came."""

    name = "old"

    async def execute(self, args: dict[str, Any]) -> Any:
        return args


@pytest.mark.parametrize(("args", "why"), [
    ({}, "address: required"),
    ({"address": None}, "address: required"),
    ({"address": "a", "bogus": 1}, "bogus: lookup takes no such argument"),
    ({"address": 5}, "address: expected a string, got int"),
    ({"address": ""}, "address: 1 to 20 characters"),
    ({"address": "x" * 21}, "address: 1 to 20 characters"),
    ({"address": "a", "limit": "10"}, "limit: expected a whole number, got str"),
    ({"address": "a", "limit": True}, "limit: expected a whole number, got bool"),
    ({"address": "a", "limit": 101}, "limit: 0 to 100, not 101"),
    ({"address": "a", "limit": -1}, "limit: 0 to 100"),
    ({"address": "a", "ratio": float("nan")}, "ratio: expected a number, got float"),
    ({"address": "a", "ratio": False}, "ratio: expected a number, got bool"),
    ({"address": "a", "flag": 1}, "flag: expected true or false, got int"),
    ({"address": "a", "mode": "warp"}, "mode: one of fast, slow, not 'warp'"),
    ({"address": "a", "table": []}, "table: expected a map, got list"),
    ({"address": "a", "table": {"a": 1, "b": 2, "c": 3}}, "table: 0 to 2 entries"),
])
def test_a_callers_mistake_is_a_bad_request_naming_the_argument(args: dict[str, Any],
                                                                 why: str) -> None:
    with pytest.raises(RpcError) as err:
        Lookup.validate(args)
    assert err.value.code == BAD_REQUEST
    assert why in str(err.value)


def test_good_arguments_get_their_defaults() -> None:
    assert Lookup.validate({"address": "a", "ratio": 2, "value": None}) == {
        "address": "a", "limit": 10, "ratio": 2, "flag": False, "mode": "fast",
        "table": None, "value": None}


def test_an_undeclared_command_passes_its_arguments_as_they_came() -> None:
    assert OldStyle.validate({"anything": [1]}) == {"anything": [1]}


def test_families_keep_their_own_registries() -> None:
    assert Sample.registry == {"lookup": Lookup, "old": OldStyle}
    assert find(Sample.registry, "lookup") is Lookup
    with pytest.raises(RpcError) as err:
        find(Sample.registry, "nope")
    assert err.value.code == UNKNOWN_COMMAND and "'nope'" in str(err.value)


def test_an_unknown_kind_is_refused_where_it_is_declared() -> None:
    with pytest.raises(ValueError, match="number"):
        Arg("n", "number")


async def _dispatch(cmd: str, args: dict[str, Any]) -> Any:
    return await find(Sample.registry, cmd)().answer(args)


def test_over_the_socket_mistakes_refusals_and_bugs_keep_their_codes(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, "edgeos.ipc.rpc")
    ok, bad, gone, bug, unknown, *_ = asyncio.run(_serve(tmp_path, [
        ("lookup", {"address": "a", "limit": 3}), ("lookup", {"address": "a", "limit": "3"}),
        ("lookup", {"address": "none"}), ("lookup", {"address": "bug"}), ("nope", {})],
        _dispatch))
    assert ok["limit"] == 3 and ok["mode"] == "fast"
    assert isinstance(bad, RpcError) and bad.code == BAD_REQUEST and "limit:" in str(bad)
    assert isinstance(gone, RpcError) and gone.code == NOT_FOUND
    assert isinstance(bug, RpcError) and bug.code == INTERNAL and "KeyError" in str(bug)
    assert isinstance(unknown, RpcError) and unknown.code == UNKNOWN_COMMAND
    logged = [r for r in caplog.records if r.exc_info]
    assert [r.exc_info[0] for r in logged] == [KeyError]  # type: ignore[index]
