"""The PLC's symbol table: upload parsing, flattening into dotted paths, selection.

TwinCAT uploads top-level symbols (``MAIN.fbBattery``, type ``ST_Battery``) and,
separately, the data types they use. Structs and arrays are walked through the type table
down to scalars, each becoming one datapoint: ``MAIN.fbBattery.fVoltage``,
``MAIN.aTemps.1`` (array indices keep the PLC's own bounds). Every leaf keeps its index
group and offset, so reads, writes and notifications address memory directly.
"""

from __future__ import annotations

import itertools
import re
import struct
from dataclasses import dataclass, field
from typing import Any

from edgeos.workers.ads.codec import Codec, codec_for

SYMBOLFLAG_BITVALUE = 0x0002
SYMBOLFLAG_READONLY = 0x0020
DATATYPEFLAG_REFERENCETO = 0x0004
DATATYPEFLAG_BITVALUES = 0x0020
DATATYPEFLAG_PROPITEM = 0x0040
DATATYPEFLAG_STATIC = 0x00020000
_SKIP_ITEM = DATATYPEFLAG_REFERENCETO | DATATYPEFLAG_BITVALUES | DATATYPEFLAG_PROPITEM \
    | DATATYPEFLAG_STATIC
_SYMBOL_HEADER = struct.Struct("<IIIIIIHHH")  # AdsSymbolEntry, 30 bytes
_DATATYPE_HEADER = struct.Struct("<IIIIIIIIHHHHH")  # AdsDatatypeEntry, 42 bytes
_ARRAY_NAME = re.compile(r"^ARRAY\s*\[(.+?)\]\s*OF\s+(.+)$", re.IGNORECASE)
MAX_DEPTH = 16


class UploadError(ValueError):
    """An upload the parser cannot make sense of."""


@dataclass(frozen=True)
class SymbolEntry:
    """One entry of the symbol upload (ADSIGRP_SYM_UPLOAD)."""

    name: str
    index_group: int
    index_offset: int
    size: int
    ads_type: int
    flags: int
    type_name: str
    comment: str


@dataclass
class DataType:
    """One entry of the data type upload (ADSIGRP_SYM_DT_UPLOAD), or one of its items."""

    name: str
    type_name: str
    size: int
    offset: int
    ads_type: int
    flags: int
    comment: str
    dims: list[tuple[int, int]] = field(default_factory=list)  # (lower bound, elements)
    items: list[DataType] = field(default_factory=list)


@dataclass(frozen=True)
class Leaf:
    """A scalar inside the PLC: one datapoint."""

    path: str
    symbol: str  # the top-level symbol it belongs to
    index_group: int
    index_offset: int
    codec: Codec
    type_name: str
    comment: str
    writable: bool

    def meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"type": self.type_name, "size": self.codec.size,
                                "comment": self.comment, "index_group": self.index_group,
                                "index_offset": self.index_offset, "writable": self.writable}
        if self.codec.unit:
            meta["unit"] = self.codec.unit
        return meta


def _strings(data: bytes, pos: int, *lengths: int) -> tuple[list[str], int]:
    out = []
    for n in lengths:
        out.append(data[pos:pos + n].decode("cp1252", "replace"))
        pos += n + 1
    return out, pos


def parse_symbol_upload(data: bytes) -> list[SymbolEntry]:
    """The entries of a symbol upload, in PLC order."""
    symbols, pos = [], 0
    while pos + _SYMBOL_HEADER.size <= len(data):
        length, group, offset, size, ads_type, flags, n_name, n_type, n_comment = \
            _SYMBOL_HEADER.unpack_from(data, pos)
        if length < _SYMBOL_HEADER.size or pos + length > len(data):
            raise UploadError(f"symbol entry at byte {pos} has a bad length {length}")
        (name, type_name, comment), _ = _strings(data, pos + _SYMBOL_HEADER.size, n_name,
                                                 n_type, n_comment)
        symbols.append(SymbolEntry(name, group, offset, size, ads_type, flags & 0xFFFF,
                                   type_name, comment))
        pos += length
    return symbols


def _parse_datatype(data: bytes, pos: int) -> tuple[DataType, int]:
    """One data type entry at ``pos`` (with its items); returns it and the next position."""
    if pos + _DATATYPE_HEADER.size > len(data):
        raise UploadError(f"data type entry at byte {pos} is truncated")
    (length, _version, _h1, _h2, size, offs, ads_type, flags, n_name, n_type, n_comment,
     n_dims, n_items) = _DATATYPE_HEADER.unpack_from(data, pos)
    if length < _DATATYPE_HEADER.size or pos + length > len(data):
        raise UploadError(f"data type entry at byte {pos} has a bad length {length}")
    (name, type_name, comment), cur = _strings(data, pos + _DATATYPE_HEADER.size, n_name,
                                               n_type, n_comment)
    dims = [struct.unpack_from("<II", data, cur + 8 * i) for i in range(n_dims)]
    cur += 8 * n_dims
    items = []
    for _ in range(n_items):
        item, cur = _parse_datatype(data, cur)
        items.append(item)
    bounds = [(lo - (1 << 32) if lo >= 1 << 31 else lo, n) for lo, n in dims]  # ARRAY[-2..2]
    return DataType(name, type_name, size, offs, ads_type, flags, comment, bounds,
                    items), pos + length


def parse_datatype_upload(data: bytes) -> dict[str, DataType]:
    """The data type table, keyed by upper-case type name (IEC names ignore case)."""
    types, pos = {}, 0
    while pos + _DATATYPE_HEADER.size <= len(data):
        entry, pos = _parse_datatype(data, pos)
        types[entry.name.upper()] = entry
    return types


def _array_from_name(type_name: str, size: int, ads_type: int) -> DataType | None:
    """``ARRAY [1..3, 0..1] OF INT`` as a type, for PLCs that upload no type table."""
    match = _ARRAY_NAME.match(type_name.strip())
    if not match:
        return None
    dims = []
    for part in match.group(1).split(","):
        lo, _, hi = part.partition("..")
        try:
            dims.append((int(lo), int(hi) - int(lo) + 1))
        except ValueError:
            return None
    return DataType(type_name, match.group(2).strip(), size, 0, ads_type, 0, "", dims)


class Flattener:
    """Walks symbols through the type table down to scalar leaves."""

    def __init__(self, types: dict[str, DataType], limit: int) -> None:
        self.types = types
        self.limit = limit
        self.leaves: list[Leaf] = []
        self.skipped: list[str] = []  # paths whose type could not be resolved
        self.truncated = False

    def add(self, sym: SymbolEntry) -> None:
        if sym.flags & SYMBOLFLAG_BITVALUE:  # bit-addressed (%MX): offsets are in bits
            self.skipped.append(sym.name)
            return
        self._walk(sym.name, sym.name, sym.type_name, sym.ads_type, sym.size,
                   sym.index_group, sym.index_offset, sym.comment,
                   not sym.flags & SYMBOLFLAG_READONLY, 0)

    def _walk(self, path: str, symbol: str, type_name: str, ads_type: int, size: int,
              group: int, offset: int, comment: str, writable: bool, depth: int) -> None:
        if len(self.leaves) >= self.limit:
            self.truncated = True
            return
        dt = self.types.get(type_name.strip().upper())
        codec = None if dt is not None and (dt.items or dt.dims) else \
            codec_for(type_name, ads_type, size)
        if codec is not None:
            self.leaves.append(Leaf(path, symbol, group, offset, codec, type_name, comment,
                                    writable))
            return
        if dt is None:
            dt = _array_from_name(type_name, size, ads_type)
        if dt is None or depth >= MAX_DEPTH:
            self.skipped.append(path)
            return
        if dt.dims:
            self._walk_array(path, symbol, dt, dt.size or size, group, offset, comment,
                             writable, depth)
        elif dt.items:
            for item in dt.items:
                if item.flags & _SKIP_ITEM:
                    continue
                item_path = f"{path}.{item.name}"
                item_comment = item.comment or comment
                if item.dims:  # an array declared inline on the member (TwinCAT 2)
                    self._walk_array(item_path, symbol, item, item.size, group,
                                     offset + item.offset, item_comment, writable, depth + 1)
                else:
                    self._walk(item_path, symbol, item.type_name, item.ads_type, item.size,
                               group, offset + item.offset, item_comment, writable, depth + 1)
        elif dt.type_name and dt.type_name.upper() != type_name.strip().upper():
            # an alias or enum: decode as its base type
            self._walk(path, symbol, dt.type_name, dt.ads_type, dt.size or size, group,
                       offset, comment or dt.comment, writable, depth + 1)
        else:
            self.skipped.append(path)

    def _walk_array(self, path: str, symbol: str, dt: DataType, size: int, group: int,
                    offset: int, comment: str, writable: bool, depth: int) -> None:
        """Elements as ``path.<index>`` (``path.<i>.<j>`` for more dimensions)."""
        count = 1
        for _, n in dt.dims:
            count *= n
        if not count:
            return
        step = size // count
        ranges = [range(lo, lo + n) for lo, n in dt.dims]
        for k, index in enumerate(itertools.product(*ranges)):
            self._walk(f"{path}.{'.'.join(map(str, index))}", symbol, dt.type_name,
                       dt.ads_type, step, group, offset + k * step, comment, writable,
                       depth + 1)


def flatten(symbols: list[SymbolEntry], types: dict[str, DataType],
            limit: int = 10_000) -> Flattener:
    """Every scalar leaf of ``symbols`` (at most ``limit``)."""
    flat = Flattener(types, limit)
    for sym in symbols:
        flat.add(sym)
    return flat


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A symbol pattern as a regex: ``*`` one dotted segment, ``**`` any number of them.

    A pattern selects a path when it matches the path or one of its parents, so
    ``MAIN.*`` takes every top-level symbol of ``MAIN`` with all that is inside it.
    Case is ignored, as TwinCAT does.
    """
    out = []
    for part in re.split(r"(\*\*|\*)", pattern.strip()):
        out.append(".*" if part == "**" else "[^.]*" if part == "*" else re.escape(part))
    return re.compile(rf"^(?:{''.join(out)})(?:\..*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    """One entry of ``symbols``: which paths, and how they are read."""

    pattern: re.Pattern[str]
    mode: str
    poll_interval_s: float


def rules_from_config(config: dict[str, Any]) -> list[Rule]:
    """``symbols`` entries (a pattern, or ``{pattern, mode, poll_interval_s}``) as rules;
    no entry at all selects every symbol."""
    mode = config.get("mode", "notify")
    interval = float(config.get("poll_interval_s", 1.0))
    rules = []
    for entry in config.get("symbols") or ["**"]:
        if isinstance(entry, str):
            entry = {"pattern": entry}
        rules.append(Rule(compile_pattern(entry["pattern"]), entry.get("mode", mode),
                          float(entry.get("poll_interval_s", interval))))
    return rules


def select(leaves: list[Leaf], rules: list[Rule]) -> list[tuple[Leaf, Rule]]:
    """The leaves to publish, each with the first rule that matches it."""
    chosen = []
    for leaf in leaves:
        for rule in rules:
            if rule.pattern.match(leaf.path):
                chosen.append((leaf, rule))
                break
    return chosen


@dataclass
class Block:
    """Leaves of one symbol read together: one notification, or one sum-read item."""

    index_group: int
    start: int
    size: int
    leaves: list[Leaf]

    def parts(self, raw: bytes) -> list[tuple[Leaf, bytes]]:
        return [(leaf, raw[leaf.index_offset - self.start:
                           leaf.index_offset - self.start + leaf.codec.size])
                for leaf in self.leaves]


def blocks(selected: list[tuple[Leaf, Rule]]) -> dict[tuple[str, float], list[Block]]:
    """Selected leaves grouped by (mode, poll interval), one block per top-level symbol."""
    groups: dict[tuple[str, float, str, int], list[Leaf]] = {}
    for leaf, rule in selected:
        interval = rule.poll_interval_s if rule.mode == "poll" else 0.0
        groups.setdefault((rule.mode, interval, leaf.symbol, leaf.index_group), []).append(leaf)
    out: dict[tuple[str, float], list[Block]] = {}
    for (mode, interval, _symbol, group), leaves in groups.items():
        start = min(leaf.index_offset for leaf in leaves)
        end = max(leaf.index_offset + leaf.codec.size for leaf in leaves)
        out.setdefault((mode, interval), []).append(Block(group, start, end - start, leaves))
    return out
