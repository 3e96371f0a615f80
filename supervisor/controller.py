"""The control endpoint: ``control.sock`` (0600) answering msgpack RPC with commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import edgeos.supervisor.satellite_commands  # noqa: F401  (replaces start, stop, status...)
import zmq
from edgeos.ipc import addresses
from edgeos.ipc.rpc import RpcServer
from edgeos.supervisor import command_modules

if TYPE_CHECKING:
    from edgeos.supervisor.arbiter import Arbiter

MAX_REQUEST_BYTES = 16 << 20  # a control request (a whole config document at most)


class Controller:
    def __init__(self, arbiter: Arbiter) -> None:
        self.arbiter = arbiter
        sock = arbiter.ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_REQUEST_BYTES)  # bounded before it is read
        self.sock = addresses.bind(sock, arbiter.paths.run, addresses.CONTROL)
        self.server = RpcServer(sock, self.dispatch)

    async def dispatch(self, cmd: str, args: dict[str, Any]) -> Any:
        """Find the command class (its module imported on first use: command_modules),
        check the declared arguments, run it."""
        return await command_modules.find(cmd)(self.arbiter).answer(args)

    def close(self) -> None:
        self.sock.close(0)
