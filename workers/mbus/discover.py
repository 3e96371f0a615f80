"""M-Bus discovery on a serial line: a primary address scan and a secondary address search.

Primary scan: SND_NKE to each address (0-250 by default); a meter that acknowledges is
read with REQ_UD2. Secondary search, as libmbus's ``mbus-serial-scan-secondary`` does it:
select with a mask whose first ID digit is 0-9 and the rest wildcards; no answer means no
meter there; a selected meter is read at the network address, and an answer that does not
decode means several meters answered at once (a collision), so the search goes one digit
deeper. A mask may fix the manufacturer, version or medium (``FFFFFFFF2D2CFFFF``: every
Kamstrup meter).

Each meter found is decoded (id, manufacturer, medium, records) and the result carries an
``mbus`` connection for the line with every meter found, for review. Runs as its own
process, like every discovery job (see :mod:`edgeos.supervisor.jobs`), printing JSON lines.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from edgeos.workers.jobio import become_job, emit, parse_ranges
from edgeos.workers.mbus.decoder import DecodeError, decode
from edgeos.workers.mbus.decoder.frame import ADDRESS_NETWORK
from edgeos.workers.mbus.master import Master, MBusError, MBusTimeout, PortError, secondary_mask

Emit = Callable[[dict[str, Any]], None]
MAX_METERS = 250  # a search that finds more than a bus can carry has gone wrong
ID_DIGITS = 8


def parse_addresses(text: str) -> list[int]:
    """``"0-250"``, ``"5"`` or ``"1,2,10-20"`` as primary addresses (0-250)."""
    return parse_ranges(text, 0, 250, "primary addresses")


def summary(decoded: dict[str, Any]) -> dict[str, Any]:
    """What a person needs to recognise a meter, and its records."""
    return {"id": decoded.get("id"), "manufacturer": decoded.get("manufacturer"),
            "medium": decoded.get("medium"), "version": decoded.get("version"),
            "secondary": decoded.get("secondary_address"),
            "records": decoded.get("records", [])}


class Scanner:
    """Probes one line through a :class:`Master`; every probe is bounded by its timeout."""

    def __init__(self, master: Master, emit: Emit) -> None:
        self.master = master
        self.emit = emit
        self.probes = 0

    def primary(self, addresses: list[int]) -> list[dict[str, Any]]:
        meters = []
        for n, address in enumerate(addresses):
            self.emit({"progress": round(n / len(addresses), 3),
                       "message": f"address {address} ({n + 1} of {len(addresses)}), "
                                  f"{len(meters)} found"})
            meter = self._primary(address)
            if meter is not None:
                meters.append(meter)
                self.emit({"found": {"address": address, "id": meter["id"],
                                     "manufacturer": meter["manufacturer"]}})
        return meters

    def _acknowledged(self, ask: Callable[[], Any]) -> bool | None:
        """One probe: True when acknowledged, False when the answer is garbled (several
        meters, or noise), None when nobody answers; a port problem ends the search."""
        self.probes += 1
        try:
            ask()
        except MBusTimeout:
            return None
        except PortError:
            raise
        except MBusError:
            return False
        return True

    def _primary(self, address: int) -> dict[str, Any] | None:
        acknowledged = self._acknowledged(lambda: self.master.snd_nke(address))
        if acknowledged is None:
            return None
        if not acknowledged:
            return {"address": address, "error": "answer garbled (two meters on one address?)"}
        try:
            return {"address": address, **summary(decode(self.master.req_ud2(address)))}
        except (MBusError, DecodeError) as exc:
            return {"address": address, "error": f"acknowledged but not readable: {exc}"}

    def secondary(self, mask: str) -> list[dict[str, Any]]:
        """Every meter whose secondary address matches ``mask`` (F: wildcard digit)."""
        secondary_mask(mask)  # checks the form
        meters: list[dict[str, Any]] = []
        for n, found in enumerate(self._search(mask.upper(), 0)):
            meters.append(found)
            self.emit({"found": {"secondary": found.get("secondary"), "id": found.get("id"),
                                 "manufacturer": found.get("manufacturer")}})
            if n + 1 >= MAX_METERS:
                break
        return meters

    def _positions(self, mask: str, pos: int) -> Iterator[int]:
        """The ID digit positions from ``pos`` on that the mask leaves open."""
        return (p for p in range(pos, ID_DIGITS) if mask[p] == "F")

    def _search(self, mask: str, pos: int) -> Iterator[dict[str, Any]]:
        open_positions = list(self._positions(mask, pos))
        if not open_positions:
            result = self._probe(mask)
            if isinstance(result, dict):
                yield result
            return
        at = open_positions[0]
        for digit in "0123456789":
            probe = mask[:at] + digit + mask[at + 1:]
            if at == 0:
                self.emit({"progress": round(int(digit) / 10, 3),
                           "message": f"secondary search {probe}"})
            result = self._probe(probe)
            if result == "collision":
                yield from self._search(probe, at + 1)
            elif isinstance(result, dict):
                yield result

    def _probe(self, mask: str) -> dict[str, Any] | str | None:
        """None: nobody there; "collision": several meters; else the one meter found."""
        acknowledged = self._acknowledged(lambda: self.master.select_secondary(mask))
        if not acknowledged:  # garbled acknowledgements: several meters
            return None if acknowledged is None else "collision"
        try:
            return summary(decode(self.master.req_ud2(ADDRESS_NETWORK)))
        except (MBusError, DecodeError):
            return "collision"


def connection(port: str, baudrate: int, meters: list[dict[str, Any]],
               by: str) -> dict[str, Any]:
    """An ``mbus`` connection reading every meter found, for review."""
    entries = [{"address": m["address"]} if by == "primary" else {"secondary": m["secondary"]}
               for m in meters if "error" not in m]
    suffix = "".join(c if c.isalnum() else "_" for c in os.path.basename(port)).strip("_")
    return {"id": f"mbus_{suffix}"[:64] or "mbus", "type": "mbus",
            "name": f"M-Bus meters on {port}", "enabled": True,
            "config": {"serial_port": port, "baudrate": baudrate, "meters": entries}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgeos.workers.mbus.discover",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("target", help="the serial port (e.g. /dev/ttyUSB0)")
    parser.add_argument("--mode", choices=("primary", "secondary"), default="primary")
    parser.add_argument("--addresses", default="0-250", help="primary: A-B, A or A,B,C-D")
    parser.add_argument("--mask", default="FFFFFFFFFFFFFFFF",
                        help="secondary: 16 hex digits, F = wildcard")
    parser.add_argument("--baudrate", type=int, default=2400)
    parser.add_argument("--timeout", type=float, default=0.5, help="seconds per request")
    args = parser.parse_args(argv)
    become_job(f"edgeos: discover mbus {args.target}")
    try:
        addresses = parse_addresses(args.addresses)
        if args.mode == "secondary":
            secondary_mask(args.mask)
        if args.baudrate not in (300, 600, 1200, 2400, 4800, 9600, 19200, 38400):
            raise ValueError(f"--baudrate {args.baudrate}: not an M-Bus baud rate")
        if not 0.05 <= args.timeout <= 10:
            raise ValueError(f"--timeout {args.timeout}: use 0.05 to 10 seconds")
    except ValueError as exc:
        emit({"error": str(exc)})
        return 2
    master = Master(args.target, args.baudrate, args.timeout, retries=0)
    scanner = Scanner(master, emit)
    try:
        meters = (scanner.primary(addresses) if args.mode == "primary"
                  else scanner.secondary(args.mask))
    except PortError as exc:
        emit({"error": str(exc)})
        return 1
    finally:
        master.close()
    emit({"progress": 1.0, "message": f"done: {len(meters)} meter(s) found"})
    emit({"result": {"kind": "mbus", "mode": args.mode, "target": args.target,
                     "meters": meters, "probes": scanner.probes,
                     "connection": connection(args.target, args.baudrate, meters, args.mode)}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
