"""Errors keep their meaning (issue 14 item 4): a caller's mistake is ``bad_request``,
a bug inside a command is ``internal`` and logged with its traceback."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
import zmq.asyncio
from edgeos.ipc.broker.broker import Broker
from edgeos.ipc.child import InstanceSpec
from edgeos.ipc.protocol import DP, pack
from edgeos.ipc.rpc import (
    BAD_REQUEST,
    INTERNAL,
    NOT_FOUND,
    UNKNOWN_COMMAND,
    AsyncRpcClient,
    Handler,
    RpcError,
    RpcServer,
)


async def _planted(cmd: str, args: dict[str, Any]) -> Any:
    if cmd == "buggy":
        return {}["missing"]  # a KeyError that is the command's own bug
    if cmd == "typo":
        return None.upper()  # type: ignore[union-attr]  # an AttributeError, same
    if cmd == "gone":
        raise RpcError("no such thing", NOT_FOUND)
    return {"echo": args}


async def _serve(tmp_path: Path, calls: list[tuple[str, dict[str, Any]]],
                 handler: Handler = _planted) -> list[Any]:
    """The answers to ``calls`` from a real RpcServer, then to two malformed requests."""
    ctx = zmq.asyncio.Context()
    server_sock = ctx.socket(zmq.ROUTER)
    endpoint = f"ipc://{tmp_path}/ctl.sock"
    server_sock.bind(endpoint)
    server = asyncio.create_task(RpcServer(server_sock, handler).serve())
    client = AsyncRpcClient(ctx, endpoint, timeout=5)
    out: list[Any] = []
    try:
        for cmd, args in calls:
            try:
                out.append(await client.call(cmd, **args))
            except RpcError as exc:
                out.append(exc)
        raw = ctx.socket(zmq.DEALER)
        raw.connect(endpoint)
        await raw.send(b"\xc1not msgpack")
        out.append(msgpack.unpackb(await asyncio.wait_for(raw.recv(), 5)))
        await raw.send(pack({"id": 9, "cmd": ["not", "a", "name"]}))
        out.append(msgpack.unpackb(await asyncio.wait_for(raw.recv(), 5)))
        raw.close(0)
    finally:
        server.cancel()
        client.close()
        server_sock.close(0)
        ctx.term()
    return out


def test_a_bug_in_a_command_is_internal_and_logged(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, "edgeos.ipc.rpc")
    buggy, typo, gone, ok, garbage, bad_cmd = asyncio.run(_serve(tmp_path, [
        ("buggy", {}), ("typo", {}), ("gone", {}), ("fine", {"x": 1})]))
    assert isinstance(buggy, RpcError) and buggy.code == INTERNAL
    assert "KeyError" in str(buggy)
    assert isinstance(typo, RpcError) and typo.code == INTERNAL
    assert isinstance(gone, RpcError) and gone.code == NOT_FOUND  # a refusal stays one
    assert ok == {"echo": {"x": 1}}
    assert garbage["ok"] is False and garbage["code"] == BAD_REQUEST
    assert bad_cmd["code"] == BAD_REQUEST and bad_cmd["id"] == 9
    logged = [r for r in caplog.records if r.exc_info]
    assert {r.exc_info[0] for r in logged} == {KeyError, AttributeError}  # type: ignore[index]
    assert "'buggy'" in logged[0].getMessage()


def _broker(tmp_path: Path) -> Broker:
    for d in ("run", "data", "config"):
        (tmp_path / d).mkdir()
    spec = InstanceSpec(id="broker", type="broker", name="broker", config={}, limits={},
                        run_dir=str(tmp_path / "run"), data_dir=str(tmp_path / "data"),
                        config_dir=str(tmp_path / "config"),
                        extra={"instances": {"w": {"type": "simulator"}}})
    return Broker(spec)


def test_broker_counts_a_dispatcher_bug_apart_from_malformed_input(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    asyncio.run(_broker_bug(tmp_path, caplog))  # the broker's sockets need a loop


async def _broker_bug(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broker = _broker(tmp_path)
    try:
        frames = [zmq.Frame(b"w"), zmq.Frame(DP), zmq.Frame(pack([["t", 1, 0, "good", True,
                                                                   None]]))]
        broker._on_message(frames)
        assert broker.counters["dp_in"] == 1 and broker.counters["malformed"] == 0

        broker._on_message([zmq.Frame(b"w"), zmq.Frame(DP), zmq.Frame(b"\xc1")])
        assert broker.counters["malformed"] == 1  # the worker's fault: counted as such

        def planted_bug(source: str, items: Any) -> tuple[int, bool]:
            raise TypeError("planted: the dispatcher is broken")

        broker.dispatch.batch = planted_bug  # type: ignore[method-assign]
        caplog.set_level(logging.ERROR, "edgeos.ipc.broker.broker")
        broker._on_message(frames)
        assert broker.counters["malformed"] == 1, "a broker bug is not the worker's input"
        assert broker.counters["internal_errors"] == 1
        assert any(r.exc_info and "planted" in str(r.exc_info[1]) for r in caplog.records)
    finally:
        broker.values.close()
        for sock in (broker.workers, broker.ctl, broker.changes):
            sock.close(0)
        broker.link.close(0)
        broker.ctx.term()


def test_broker_commands_check_their_declared_arguments(tmp_path: Path) -> None:
    asyncio.run(_broker_checks(tmp_path))


async def _broker_checks(tmp_path: Path) -> None:
    broker = _broker(tmp_path)
    try:
        async def refusal(cmd: str, **args: Any) -> RpcError:
            with pytest.raises(RpcError) as err:
                await broker.handle(cmd, args)
            return err.value

        assert (await refusal("nope")).code == UNKNOWN_COMMAND
        for cmd, args, why in [("get", {}, "address: required"),
                               ("set", {"address": "w.x", "wait_s": 0}, "wait_s: more than 0"),
                               ("set", {"address": "w.x", "wait": "yes"}, "wait: expected"),
                               ("datapoints", {"limit": -1}, "limit: 0 to"),
                               ("route_test", {"address": "w.x", "bogus": 1}, "bogus: "),
                               ("cut", {"id": "w"}, "cut: required")]:
            err = await refusal(cmd, **args)
            assert err.code == BAD_REQUEST and why in str(err), (cmd, str(err))
        (tmp_path / "config" / "routing.json").write_text('{"routes": [{"id": 1}]}')
        err = await refusal("check_routes_file", instance_ids=["w"])
        assert err.code == BAD_REQUEST and err.detail, "every problem listed"
        assert (await broker.handle("datapoints", {}))["total"] == 0  # defaults filled in
    finally:
        broker.values.close()
        for sock in (broker.workers, broker.ctl, broker.changes):
            sock.close(0)
        broker.link.close(0)
        broker.ctx.term()
