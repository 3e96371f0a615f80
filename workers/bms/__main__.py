"""Command line: decode captured frames, scan for BLE devices, poll a BMS once.

    python -m edgeos.workers.bms decode --protocol jbd|daly|ant|victron [--key HEX] HEX [HEX ...]
    python -m edgeos.workers.bms scan [--timeout S]
    python -m edgeos.workers.bms poll --protocol P (--serial-port PORT | --address MAC) [...]

``decode`` prints one JSON object (the frames merged); a frame failing its checks exits 1
with the reason on stderr. HEX may separate bytes with spaces, ``:``, ``.``, ``-`` or ``,``
as captures do; a frame typed as separate one-byte arguments is joined back together, and
one argument may hold several frames back to back.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import re
import sys
from collections.abc import Sequence

from .errors import BmsError
from .model import Reading
from .protocols import NAMES, Options, decode
from .reassembly import split_frames

_SEPARATORS = re.compile(r"[\s:.,;_-]+")
_HEX_TOKEN = re.compile(r"(?:0[xX])?((?:[0-9a-fA-F]{2})+)")


def parse_hex(text: str) -> bytes:
    """Bytes from hex text as captures write it; ValueError with the offending token."""
    data = bytearray()
    for token in _SEPARATORS.split(text.strip()):
        if not token:
            continue
        match = _HEX_TOKEN.fullmatch(token)
        if match is None:
            raise ValueError(f"not hex: {token!r} in {text!r}")
        data += bytes.fromhex(match.group(1))
    if not data:
        raise ValueError(f"no hex bytes in {text!r}")
    return bytes(data)


def group_arguments(arguments: Sequence[str]) -> list[bytes]:
    """One chunk per argument, except that runs of one-byte arguments form one chunk."""
    chunks: list[bytes] = []
    pending = bytearray()
    for argument in arguments:
        data = parse_hex(argument)
        if len(data) == 1:
            pending += data
            continue
        if pending:
            chunks.append(bytes(pending))
            pending.clear()
        chunks.append(data)
    if pending:
        chunks.append(bytes(pending))
    return chunks


def decode_arguments(protocol: str, arguments: Sequence[str], options: Options) -> Reading:
    chunks = group_arguments(arguments)
    if protocol == "victron":
        frames = chunks  # advertisements, not a byte stream
    else:
        frames = [frame for chunk in chunks for frame in split_frames(protocol, chunk)]
    return decode(protocol, frames, options)


def _key(text: str) -> bytes:
    try:
        key = parse_hex(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if len(key) != 16:
        raise argparse.ArgumentTypeError(
            f"a Victron key has 16 bytes (32 hex digits), not {len(key)}"
        )
    return key


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m edgeos.workers.bms", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    dec = commands.add_parser("decode", help="decode captured frames and print one JSON object")
    dec.add_argument("--protocol", required=True, choices=NAMES)
    _add_options(dec)
    dec.add_argument("hex", nargs="+", metavar="HEX", help="a frame (or advertisement) in hex")

    scan = commands.add_parser("scan", help="list nearby BLE devices as JSON")
    scan.add_argument("--timeout", type=float, default=5.0, help="seconds to scan (default 5)")

    poll = commands.add_parser("poll", help="poll a BMS once and print the reading as JSON")
    poll.add_argument("--protocol", required=True, choices=NAMES)
    link = poll.add_mutually_exclusive_group(required=True)
    link.add_argument("--serial-port", help="serial device or pyserial URL")
    link.add_argument("--address", help="BLE MAC address")
    poll.add_argument("--baudrate", type=int)
    poll.add_argument("--timeout", type=float, help="seconds per request")
    poll.add_argument(
        "--ant-variant",
        choices=("2021", "legacy"),
        default="2021",
        help="ANT: which status request to send (default 2021)",
    )
    _add_options(poll)
    return parser


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--key", type=_key, metavar="HEX", help="Victron device key (32 hex digits)"
    )
    parser.add_argument(
        "--daly-current-sign",
        type=int,
        choices=(1, -1),
        default=1,
        help="Daly: 1 = raw above 30000 is charging (default), -1 flips",
    )


def _options(args: argparse.Namespace) -> Options:
    return Options(key=args.key, daly_current_sign=args.daly_current_sign)


async def _poll(args: argparse.Namespace) -> Reading:
    from .transports import create

    config: dict[str, object] = {
        "transport": "serial" if args.serial_port else "ble",
        "protocol": args.protocol,
        "serial_port": args.serial_port,
        "address": args.address,
        "baudrate": args.baudrate,
        "daly_current_sign": args.daly_current_sign,
        "ant_variant": args.ant_variant,
        "key": args.key.hex() if args.key else None,
    }
    if args.timeout:
        config["timeout_s"] = args.timeout
    transport = create(config)
    try:
        return await transport.poll()
    finally:
        await transport.close()


async def _scan(args: argparse.Namespace) -> list[dict[str, object]]:
    from .transports.ble import scan

    return [dataclasses.asdict(device) for device in await scan(args.timeout)]


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s"
    )
    args = _parser().parse_args(argv)
    try:
        if args.command == "decode":
            result: object = decode_arguments(args.protocol, args.hex, _options(args))
        elif args.command == "scan":
            result = asyncio.run(_scan(args))
        else:
            result = asyncio.run(_poll(args))
    except (BmsError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
