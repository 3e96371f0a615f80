"""Modbus discovery: which unit ids answer on a TCP endpoint or an RTU line, which of them
speak SunSpec, and a register map ready to save as a ``modbus`` connection.

A unit counts as present when it answers at all: with data, or with a Modbus exception
that shows it parsed the request (illegal function, address or value). Silence and the
exceptions a gateway or server gives for a unit that is not there (device failure,
gateway path unavailable, gateway target failed to respond) count as absent. A SunSpec
unit has the ``SunS`` marker at 40000, 50000 or 0 and a chain of models after it (each
model: its id, its length, its points; id 0xFFFF, or 0 on devices that leave the end
marker out, ends the chain). Models whose layout we
ship (sunspec_models.json) become registers named ``<group>.<point>`` exactly as in
``config/examples/sunspec_inverter.json``; other models are listed by id and length. For
units without SunSpec the result says which tables answer from which addresses.

Runs as its own process, started by the supervisor's discovery jobs (device code never
runs in the supervisor), and prints one JSON object per line: ``{"progress", "message"}``
while it works and ``{"result": ...}`` at the end. Every unit takes its own turn on a
shared serial line (the per-line lock the Modbus workers use), so running instances keep
polling between the probes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from edgeos.common.schemas import with_defaults
from edgeos.workers import registry
from edgeos.workers.jobio import become_job, emit, parse_ranges
from edgeos.workers.modbus.link import BusCounters, DeviceRejected, DeviceUnreachable, ModbusLink
from edgeos.workers.modbus.registers import decode

SUNSPEC_BASES = (40000, 50000, 0)
SUNS = [0x5375, 0x6E53]  # "SunS"
END_OF_CHAIN = 0xFFFF
MAX_MODELS = 64  # a chain longer than this is a device bug, not a map
#: exceptions that prove the unit parsed the request
PARSED = frozenset({1, 2, 3})
TABLES = ("holding", "input", "coil", "discrete")
#: where register tables commonly start; the extent from each start is measured
PROBE_STARTS = (0, 100, 1000, 30000, 40000)
MAX_COUNT = {"holding": 125, "input": 125, "coil": 2000, "discrete": 2000}


class TargetError(ValueError):
    """A discovery target that is not ``tcp://HOST[:PORT]`` or ``rtu://PORT[?opts]``."""


def parse_target(target: str) -> dict[str, Any]:
    """The link config (as a ``modbus`` connection's) for ``tcp://HOST:PORT`` or
    ``rtu:///dev/ttyUSB0?baudrate=9600&parity=N``."""
    parts = urlsplit(target)
    if parts.scheme == "tcp":
        if not parts.hostname:
            raise TargetError(f"{target!r}: no host (tcp://HOST:PORT)")
        return {"transport": "tcp", "host": parts.hostname, "port": parts.port or 502}
    if parts.scheme == "rtu":
        if not parts.path:
            raise TargetError(f"{target!r}: no serial port (rtu:///dev/ttyUSB0)")
        config: dict[str, Any] = {"transport": "rtu", "serial_port": parts.path}
        for key, values in parse_qs(parts.query).items():
            if key not in ("baudrate", "parity", "bytesize", "stopbits"):
                raise TargetError(f"{target!r}: unknown option {key!r}")
            config[key] = values[-1] if key == "parity" else int(values[-1])
        return config
    raise TargetError(f"{target!r}: the target is tcp://HOST:PORT or rtu://SERIAL_PORT")


def parse_units(text: str) -> list[int]:
    """``"1-10"``, ``"3"`` or ``"1,2,5-7"`` as unit ids (0-255)."""
    return parse_ranges(text, 0, 255, "unit ids")


def _layouts() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("sunspec_models.json").read_text("utf-8")
    return json.loads(text)


@dataclass
class Answer:
    """What one read got: data, a Modbus exception code, or silence."""

    data: list[Any] | None = None
    code: int | None = None

    @property
    def present(self) -> bool:
        return self.data is not None or self.code in PARSED


@dataclass
class Unit:
    unit_id: int
    sunspec: list[int] = field(default_factory=list)
    sunspec_base: int | None = None
    models: list[dict[str, Any]] = field(default_factory=list)
    identity: dict[str, str] = field(default_factory=dict)
    tables: list[dict[str, Any]] = field(default_factory=list)
    registers: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"unit_id": self.unit_id, "sunspec": self.sunspec}
        if self.sunspec_base is not None:
            doc.update(sunspec_base=self.sunspec_base, models=self.models,
                       identity=self.identity)
        else:
            doc["tables"] = self.tables
        doc["registers"] = self.registers
        return doc


class Prober:
    """Reads through one :class:`ModbusLink`, a turn on the line per unit."""

    def __init__(self, link: ModbusLink) -> None:
        self.link = link

    def ask(self, table: str, address: int, count: int) -> Answer:
        try:
            return Answer(data=list(self.link.read(table, address, count)))
        except DeviceRejected as exc:
            return Answer(code=exc.code)
        except DeviceUnreachable:
            return Answer()

    def unit(self, unit_id: int) -> Unit | None:
        """Everything about one unit id, or None when nothing answers there."""
        self.link.unit_id = unit_id
        with self.link.turn():
            first = self.ask("holding", SUNSPEC_BASES[0], 2)
            if not first.present and not self.ask("holding", 0, 1).present:
                return None
            unit = Unit(unit_id)
            base = SUNSPEC_BASES[0] if first.data == SUNS else self._sunspec_base()
            if base is not None:
                self._walk(unit, base)
            else:
                unit.tables = list(self._tables())
        return unit

    def _sunspec_base(self) -> int | None:
        for base in SUNSPEC_BASES[1:]:
            if self.ask("holding", base, 2).data == SUNS:
                return base
        return None

    def _walk(self, unit: Unit, base: int) -> None:
        unit.sunspec_base = base
        address = base + 2
        for _ in range(MAX_MODELS):
            header = self.ask("holding", address, 2).data
            # 0xFFFF ends the chain; id 0 is no model (an image without the end marker)
            if (header is None or header[0] in (END_OF_CHAIN, 0)
                    or address + 2 + header[1] > 65536):
                break
            model_id, length = header
            unit.sunspec.append(model_id)
            unit.models.append({"id": model_id, "address": address, "length": length})
            address += 2 + length
        unit.registers = register_map(unit, _layouts())
        if unit.models and unit.models[0]["id"] == 1:
            unit.identity = self._identity(unit.models[0]["address"])

    def _identity(self, address: int) -> dict[str, str]:
        data = self.ask("holding", address + 2, 64).data
        if data is None:
            return {}
        fields = {"manufacturer": (0, 16), "model": (16, 16), "version": (40, 8),
                  "serial": (48, 16)}
        return {name: str(decode(data[at:at + n], "string")) for name, (at, n) in fields.items()}

    def _tables(self) -> Iterator[dict[str, Any]]:
        for table in TABLES:
            for start in PROBE_STARTS:
                if self.ask(table, start, 1).data is not None:
                    yield {"table": table, "address": start,
                           "count": self._extent(table, start)}

    def _extent(self, table: str, start: int) -> int:
        """How many values one read from ``start`` returns, found by bisection."""
        lo, hi = 1, min(MAX_COUNT[table], 65536 - start)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.ask(table, start, mid).data is not None:
                lo = mid
            else:
                hi = mid - 1
        return lo


def register_map(unit: Unit, layouts: dict[str, Any]) -> list[dict[str, Any]]:
    """Registers for the SunSpec models found whose layout we know: the marker, then every
    point at its model's address, named ``<group>.<point>`` (``<group>_2`` for the second
    model of one group)."""
    assert unit.sunspec_base is not None
    registers: list[dict[str, Any]] = [
        {"name": "sunspec.marker", "address": unit.sunspec_base, "type": "string", "count": 2,
         "poll_interval_s": 300, "description": "SunSpec identifier: 'SunS'"}]
    seen: dict[str, int] = {}
    for model in unit.models:
        key = layouts["aliases"].get(str(model["id"]), str(model["id"]))
        layout = layouts["models"].get(key)
        if layout is None or model["length"] < layout["length"]:
            model["known"] = False
            continue
        model["known"] = True
        seen[layout["group"]] = seen.get(layout["group"], 0) + 1
        group = layout["group"] + ("" if seen[layout["group"]] == 1
                                   else f"_{seen[layout['group']]}")
        model["group"] = group
        for point in layout["points"]:
            reg = {k: v for k, v in point.items() if k != "offset"}
            reg["name"] = f"{group}.{point['name']}"
            reg["address"] = model["address"] + point["offset"]
            if "scale_factor" in reg:
                reg["scale_factor"] = f"{group}.{reg['scale_factor']}"
            registers.append(reg)
    return registers


def connection(link_config: dict[str, Any], unit: Unit) -> dict[str, Any]:
    """A ``modbus`` connection entry for one unit, for review before it is saved."""
    where = link_config.get("host") or os.path.basename(link_config.get("serial_port", ""))
    name = " ".join(v for v in (unit.identity.get("manufacturer"), unit.identity.get("model"))
                    if v) or f"Modbus unit {unit.unit_id} at {where}"
    suffix = "".join(c if c.isalnum() else "_" for c in str(where)).strip("_")
    config = {**link_config, "unit_id": unit.unit_id, "registers": unit.registers}
    if unit.sunspec:
        config["write_multiple"] = True  # SunSpec devices commonly take only function 16
    return {"id": f"modbus_{suffix}_{unit.unit_id}"[:64], "type": "modbus", "name": name,
            "enabled": True, "config": config}


def discover(link_config: dict[str, Any], units: list[int], run_dir: str,
             emit: Callable[[dict[str, Any]], None], timeout_s: float = 0.5) -> dict[str, Any]:
    """Probe every unit id in turn, emitting progress; the result document."""
    schema = registry.manifest("modbus")["config_schema"]  # defaults as a worker gets them
    link = ModbusLink(with_defaults(schema, {**link_config, "timeout_s": timeout_s,
                                             "retries": 0}), run_dir, BusCounters())
    prober = Prober(link)
    found: list[dict[str, Any]] = []
    try:
        for n, unit_id in enumerate(units):
            emit({"progress": round(n / len(units), 3),
                  "message": f"unit {unit_id} ({n + 1} of {len(units)}), {len(found)} found"})
            unit = prober.unit(unit_id)
            if unit is not None:
                doc = unit.as_dict()
                doc["connection"] = connection(link_config, unit)
                found.append(doc)
                emit({"found": {"unit_id": unit_id, "sunspec": unit.sunspec}})
    finally:
        link.close()
    emit({"progress": 1.0, "message": f"done: {len(found)} unit(s) found"})
    return {"kind": "modbus", "target": link_config, "units": found,
            "requests": link.counters.requests}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgeos.workers.modbus.discover",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("target", help="tcp://HOST[:PORT] or rtu://SERIAL_PORT[?baudrate=N]")
    parser.add_argument("--units", default="1-247", help="unit ids: A-B, A or A,B,C-D")
    parser.add_argument("--timeout", type=float, default=0.5, help="seconds per request")
    parser.add_argument("--run", default=os.environ.get("EDGEOS_RUN", "."),
                        help="the daemon's run dir (where the serial line locks live)")
    args = parser.parse_args(argv)
    become_job(f"edgeos: discover modbus {args.target}")
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    try:
        target, units = parse_target(args.target), parse_units(args.units)
        if not 0.01 <= args.timeout <= 10:
            raise ValueError(f"--timeout {args.timeout}: use 0.01 to 10 seconds")
    except ValueError as exc:
        emit({"error": str(exc)})
        return 2
    emit({"result": discover(target, units, args.run, emit, args.timeout)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
