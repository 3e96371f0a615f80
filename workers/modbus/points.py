"""The register map: one :class:`Point` per configured register, with its scaling.

A point turns the registers (or bits) read from the device into the value published
as ``<id>.<name>``, and a written value back into registers. Scaling is ``scale``
times, optionally, ten to the power of another register's value (``scale_factor``,
the SunSpec ``sunssf`` convention), so one map fits every device of a family.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from edgeos.workers.coerce import to_bool
from edgeos.workers.modbus import registers

BIT_TABLES = frozenset({"coil", "discrete"})
WRITABLE_TABLES = frozenset({"coil", "holding"})
META_KEYS = ("description", "device_class", "state_class")
SUNSSF_LIMIT = 10  # SunSpec scale factors lie in -10..10; anything else means "not set"



class MapError(ValueError):
    """A register map that the JSON Schema accepts but that cannot work."""


class ScaleUnknown(LookupError):
    """A point's scale factor has not been read yet, or the device does not set it."""


@dataclass(frozen=True)
class Point:
    """One named register (or coil) of the device."""

    name: str
    table: str
    address: int
    type: str
    width: int
    interval: float
    scale: float = 1
    scale_factor: str | None = None
    unit: str | None = None
    word_order: str = "big"
    byte_order: str = "big"
    writable: bool = False
    not_implemented: int | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def bits(self) -> bool:
        return self.table in BIT_TABLES

    @property
    def end(self) -> int:
        return self.address + self.width

    def raw_value(self, data: Sequence[int] | Sequence[bool]) -> bool | int | float | str:
        """The unscaled value that ``data`` (this point's registers or bits) hold."""
        if self.bits:
            return bool(data[0])
        return registers.decode(data, self.type, word_order=self.word_order,
                                byte_order=self.byte_order)

    def value(self, data: Sequence[int] | Sequence[bool],
              exponent: int | None = None) -> tuple[Any, str]:
        """``(value, quality)`` to publish; ``exponent`` is the scale factor's value.

        A raw value equal to ``not_implemented`` gives ``(None, "uncertain")``: the
        device answered, but the point has no meaning on this device.
        """
        raw = self.raw_value(data)
        if isinstance(raw, bool | str):
            return raw, "good"
        if raw == self.not_implemented:
            return None, "uncertain"
        if isinstance(raw, float) and not math.isfinite(raw):
            return None, "uncertain"
        return self._scaled(raw, exponent), "good"

    def _scaled(self, raw: int | float, exponent: int | None) -> int | float:
        power = exponent or 0
        factor = self.scale * (10 ** power)
        if factor == 1:
            return raw
        value = raw * factor
        if isinstance(raw, int) and isinstance(value, float):
            value = round(value, _decimals(self.scale) + max(0, -power))
        return value

    def encode(self, value: Any, exponent: int | None = None) -> list[int] | list[bool]:
        """The registers (or bits) to write so the device reports ``value``."""
        if self.bits:
            return [to_bool(value)]
        if self.type == "string":
            if not isinstance(value, str):
                raise ValueError(f"{value!r} is not a string")
            return registers.encode(value, "string", byte_order=self.byte_order,
                                    count=self.width)
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int | float):
            raise ValueError(f"{value!r} is not a number")
        power = exponent or 0
        raw: int | float = value / (self.scale * (10 ** power))
        if self.type not in registers.FLOATS:
            if not math.isfinite(raw):
                raise ValueError(f"{value!r} is not a finite number")
            raw = round(raw)
        return registers.encode(raw, self.type, word_order=self.word_order,
                                byte_order=self.byte_order)


def _decimals(scale: float) -> int:
    """Decimal places of ``scale`` as written (0.1 -> 1, 0.25 -> 2, 10 -> 0)."""
    exponent = Decimal(repr(scale)).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def exponent_of(point: Point, points: Mapping[str, Point],
                raw: Mapping[str, Sequence[int] | Sequence[bool]]) -> int | None:
    """The scale-factor exponent for ``point`` from the last raw data read.

    None when the point has no scale factor; ScaleUnknown when it has not been read,
    or holds no valid exponent (SunSpec's "not implemented" 0x8000, for one).
    """
    if point.scale_factor is None:
        return None
    source = points[point.scale_factor]
    data = raw.get(source.name)
    if data is None:
        raise ScaleUnknown(f"scale factor {source.name!r} has not been read yet")
    value = source.raw_value(data)
    if value == source.not_implemented or not isinstance(value, int) \
            or abs(value) > SUNSSF_LIMIT:
        raise ScaleUnknown(f"scale factor {source.name!r} holds no exponent ({value!r})")
    return value


def load(config: Mapping[str, Any]) -> dict[str, Point]:
    """Every point of a (schema-valid, defaults filled) ``config``, by name; MapError on a
    broken map. A register's own interval and orders fall back to the device's."""
    interval = float(config["poll_interval_s"])
    offset = int(config["address_offset"])
    word_order = config["word_order"]
    byte_order = config["byte_order"]
    points: dict[str, Point] = {}
    for n, entry in enumerate(config["registers"]):
        label = f"registers[{n}] ({entry.get('name')!r})"
        table = entry["function"]
        type_ = entry.get("type", "bool" if table in BIT_TABLES else "uint16")
        if entry["name"] in points:
            raise MapError(f"{label}: duplicate name")
        if (type_ == "bool") != (table in BIT_TABLES):
            raise MapError(f"{label}: type {type_!r} does not fit function {table!r}")
        if entry["writable"] and table not in WRITABLE_TABLES:
            raise MapError(f"{label}: only holding registers and coils are writable")
        try:
            width = 1 if type_ == "bool" else registers.width(type_, entry.get("count"))
        except ValueError as exc:
            raise MapError(f"{label}: {exc}") from None
        address = entry["address"] + offset
        if address < 0 or address + width > 65536:
            raise MapError(f"{label}: address {address} (after address_offset {offset}) "
                           f"does not fit 0..65535")
        points[entry["name"]] = Point(
            name=entry["name"], table=table, address=address, type=type_,
            width=width, interval=float(entry.get("poll_interval_s", interval)),
            scale=entry["scale"], scale_factor=entry.get("scale_factor"),
            unit=entry.get("unit"), word_order=entry.get("word_order", word_order),
            byte_order=entry.get("byte_order", byte_order),
            writable=bool(entry["writable"]),
            not_implemented=entry.get("not_implemented"),
            meta={k: entry[k] for k in META_KEYS if k in entry})
    for n, point in enumerate(points.values()):
        if point.scale_factor is None:
            continue
        source = points.get(point.scale_factor)
        if source is None or source.bits or source.type not in registers.FORMATS \
                or source.type in registers.FLOATS:
            raise MapError(f"registers[{n}] ({point.name!r}): scale_factor "
                           f"{point.scale_factor!r} is not an integer register of this map")
    return points
