"""Command line: `python -m edgeos.workers.mbus decode HEX` prints the decoded frame as JSON.

HEX may be split over several arguments or contain spaces (as in the .hex capture
files); `-` reads it from stdin. A frame that fails its checks exits 1 with the
reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

from edgeos.workers.mbus.decoder import DecodeError, decode


def _parse_hex(parts: list[str]) -> bytes:
    text = sys.stdin.read() if parts == ["-"] else " ".join(parts)
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise DecodeError(f"invalid hex: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgeos.workers.mbus",
                                     description="Wired M-Bus tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    decode_cmd = commands.add_parser("decode", help="decode one RSP_UD long frame")
    decode_cmd.add_argument("hex", nargs="+", metavar="HEX",
                            help="frame as hex, spaces allowed; '-' reads stdin")
    args = parser.parse_args(argv)

    try:
        result = decode(_parse_hex(args.hex))
    except DecodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(json.dumps(result, ensure_ascii=False, indent=2).encode() + b"\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
