"""Group the register map into as few read requests as the device allows.

Points of the same table and poll interval whose addresses lie close together are
read with one request. A request may not exceed the device's limits (125 registers,
2000 bits by the spec; many devices accept fewer) and may bridge at most ``max_gap``
unmapped addresses, because some devices refuse reads that touch registers they do
not implement. Greedy left-to-right merging is optimal here: each block starts at
the first point not yet covered and reaches as far as the limits let it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from edgeos.workers.modbus.points import BIT_TABLES, Point

MAX_REGISTERS = 125
MAX_BITS = 2000


@dataclass(eq=False)
class Block:
    """One read request: ``count`` registers or bits of ``table`` from ``start``."""

    table: str
    start: int
    count: int
    interval: float
    points: list[Point] = field(default_factory=list)

    def slice(self, point: Point, data: Sequence[int] | Sequence[bool]) -> list:
        """The part of ``data`` (this block's read) that belongs to ``point``."""
        offset = point.address - self.start
        return list(data[offset:offset + point.width])


def plan(points: Iterable[Point], *, max_registers: int = MAX_REGISTERS,
         max_bits: int = MAX_BITS, max_gap: int = 0) -> list[Block]:
    """The read requests covering every point, fewest first by table and address."""
    groups: defaultdict[tuple[str, float], list[Point]] = defaultdict(list)
    for point in points:
        groups[(point.table, point.interval)].append(point)
    blocks: list[Block] = []
    for (table, interval), members in sorted(groups.items()):
        limit = max_bits if table in BIT_TABLES else max_registers
        current: Block | None = None
        for point in sorted(members, key=lambda p: (p.address, p.width)):
            if point.width > limit:
                raise ValueError(f"{point.name!r} spans {point.width} registers, more than "
                                 f"one request may read ({limit})")
            if current is not None:
                end = current.start + current.count
                new_end = max(end, point.end)
                if point.address - end <= max_gap and new_end - current.start <= limit:
                    current.count = new_end - current.start
                    current.points.append(point)
                    continue
            current = Block(table, point.address, point.width, interval, [point])
            blocks.append(current)
    return blocks
