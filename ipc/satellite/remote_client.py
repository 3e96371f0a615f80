"""``edgectl --endpoint tcp://HOST:PORT``: the control RPC over the CURVE link.

The user's client key lives in ``$XDG_CONFIG_HOME/edgeos/`` (``client.key_secret``
0600, made on first use; ``edgectl client-key`` prints the public half). The core's
key is ``EDGEOS_CORE_KEY``, else the one pinned for that endpoint in
``known_cores.json``, else asked from the core's key service and pinned (trust on
first use). The core admits the key only once ``edgectl remote trust`` named it.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any

import zmq
import zmq.auth
from edgeos.ipc import protocol
from edgeos.ipc.rpc import REFUSED, UNAVAILABLE, RpcError
from edgeos.ipc.satellite import keys, wire

KNOWN = "known_cores.json"


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "edgeos"


def client_keys() -> tuple[bytes, bytes]:
    """(public, secret) of this user's client key, made on first use."""
    keys.require_curve()
    cdir = config_dir()
    cdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = cdir / "client.key_secret"
    if not secret.exists():
        old = os.umask(0o077)
        try:
            zmq.auth.create_certificates(cdir, "client")
        finally:
            os.umask(old)
    os.chmod(secret, 0o600)
    public, private = zmq.auth.load_certificate(secret)
    assert private is not None
    return public, private


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    if not endpoint.startswith("tcp://"):
        raise ValueError(f"--endpoint {endpoint!r}: use tcp://HOST:PORT")
    return wire.parse_hostport(endpoint[len("tcp://"):])


def _ask_key(ctx: zmq.Context[Any], host: str, port: int) -> bytes:
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, 4096)
    sock.connect(wire.tcp(host, wire.key_port(port)))
    try:
        sock.send(b"key")
        if not sock.poll(3000):
            raise RpcError(f"the core at {host}:{port} does not announce its key", UNAVAILABLE)
        return keys.check_key(str(protocol.unpack(sock.recv())["key"]), "announced core key")
    finally:
        sock.close(0)


def core_key(ctx: zmq.Context[Any], host: str, port: int) -> bytes:
    given = os.environ.get("EDGEOS_CORE_KEY")
    if given:
        return keys.check_key(given, "EDGEOS_CORE_KEY")
    path = config_dir() / KNOWN
    known = json.loads(path.read_text()) if path.exists() else {}
    name = f"{host}:{port}"
    if name in known:
        return keys.check_key(known[name], f"{path} [{name}]")
    key = _ask_key(ctx, host, port)
    known[name] = key.decode()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(known, indent=2))
    os.replace(tmp, path)
    print(f"edgectl: pinned the key of {name} (first use): {key.decode()}", file=sys.stderr)
    return key


class RemoteRpcClient:
    """Blocking, one call at a time, like :class:`~edgeos.ipc.rpc.RpcClient`."""

    def __init__(self, endpoint: str, timeout: float = 10.0) -> None:
        host, port = parse_endpoint(endpoint)
        self._ctx = zmq.Context()
        public, secret = client_keys()
        server = core_key(self._ctx, host, port)
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.curve_publickey, self._sock.curve_secretkey = public, secret
        self._sock.curve_serverkey = server
        self._sock.connect(wire.tcp(host, port))
        self._timeout = timeout
        self._ids = itertools.count(1)

    def call(self, cmd: str, timeout: float | None = None, **args: Any) -> Any:
        req_id = next(self._ids)
        self._sock.send_multipart([wire.RPC, protocol.pack({"id": req_id, "cmd": cmd,
                                                            "args": args})])
        wait_ms = int((timeout or self._timeout) * 1000)
        while self._sock.poll(wait_ms):
            frames = self._sock.recv_multipart()
            if len(frames) == 2 and frames[0] == wire.RPC:
                reply = protocol.unpack(frames[1])
                if reply.get("id") == req_id:
                    if reply.get("ok"):
                        return reply.get("result")
                    raise RpcError(reply.get("error", "error"), reply.get("code", REFUSED),
                                   reply.get("detail"))
        raise RpcError(f"no answer to {cmd!r} within {timeout or self._timeout:g} s",
                       UNAVAILABLE)

    def close(self) -> None:
        self._sock.close(0)
        self._ctx.term()
