"""Symbol and data type uploads, flattening into dotted paths, selection by pattern."""

from __future__ import annotations

import struct

import pytest
from edgeos.workers.ads.symbols import (
    Block,
    UploadError,
    blocks,
    compile_pattern,
    flatten,
    parse_datatype_upload,
    parse_symbol_upload,
    rules_from_config,
    select,
)
from pyads.testserver.advanced_handler import PLCVariable

IG = 0x4020
GUID = bytes(range(16))


def sym(name: str, type_name: str, offset: int, size: int, ads_type: int = 65,
        comment: str = "", flags: int = 0, extra: bytes = b"") -> bytes:
    """An AdsSymbolEntry as TwinCAT 3 sends it (extra: type GUID, attributes...)."""
    body = f"{name}\0{type_name}\0{comment}\0".encode() + extra
    return struct.pack("<IIIIIHHHHH", 30 + len(body), IG, offset, size, ads_type, flags, 0,
                       len(name), len(type_name), len(comment)) + body


def dt(name: str, type_name: str, size: int, offs: int = 0, ads_type: int = 65,
       flags: int = 0, dims: tuple[tuple[int, int], ...] = (), items: tuple[bytes, ...] = (),
       comment: str = "", extra: bytes = b"") -> bytes:
    """An AdsDatatypeEntry with its array info and items."""
    body = (f"{name}\0{type_name}\0{comment}\0".encode()
            + b"".join(struct.pack("<II", lo, n) for lo, n in dims) + b"".join(items) + extra)
    return struct.pack("<IIIIIIIIHHHHH", 42 + len(body), 1, 0, 0, size, offs, ads_type, flags,
                       len(name), len(type_name), len(comment), len(dims), len(items)) + body


TYPES = b"".join([
    dt("ST_Inner", "", 6, items=(dt("nA", "INT", 2, 0, 2), dt("bB", "BOOL", 1, 2, 33),
                                 dt("nC", "BYTE", 1, 3, 17))),
    dt("ST_Outer", "", 40, extra=GUID, items=(
        dt("fX", "REAL", 4, 0, 4, comment="x axis"),
        dt("stIn", "ST_Inner", 6, 4),
        dt("aGrid", "ARRAY [0..1,1..2] OF INT", 8, 10, 2),
        dt("nStatic", "INT", 2, 0, 2, flags=0x00020000),  # static: not in the instance
        dt("pProp", "REAL", 4, 0, 4, flags=0x40),  # property: no memory behind it
        dt("aInline", "UINT", 4, 20, 18, dims=((5, 2),)),  # TwinCAT 2 style inline array
        dt("sText", "STRING(10)", 11, 24, 30))),
    dt("ARRAY [0..1,1..2] OF INT", "INT", 8, ads_type=2, dims=((0, 2), (1, 2))),
    dt("ARRAY [1..2] OF ST_Inner", "ST_Inner", 12, dims=((1, 2),)),
    dt("ARRAY [-1..0] OF SINT", "SINT", 2, ads_type=16, dims=(((1 << 32) - 1, 2),)),
    dt("E_State", "UINT", 2, ads_type=18, flags=0x2000, extra=b"\x02\x00enum-infos"),
    dt("T_Alias", "E_State", 2, ads_type=18),
])

SYMBOLS = b"".join([
    sym("MAIN.fTemp", "REAL", 100, 4, 4, "Boiler", extra=GUID),
    sym("MAIN.stOuter", "ST_Outer", 200, 40),
    sym("MAIN.aInner", "ARRAY [1..2] OF ST_Inner", 300, 12, 65),
    sym("MAIN.eState", "E_State", 400, 2, 18),
    sym("MAIN.eAlias", "T_Alias", 402, 2, 18),
    sym("GVL.nVersion", "UDINT", 500, 4, 19, flags=0x20),
    sym("GVL.aRaw", "ARRAY [1..3] OF DINT", 600, 12, 3),  # not in the type table
    sym("GVL.aNeg", "ARRAY [-1..0] OF SINT", 610, 2, 16),
    sym("GVL.pThing", "POINTER TO INT", 700, 8, 21),
    sym("GVL.bBit", "BOOL", 800, 0, 33, flags=0x02),  # bit-addressed %MX
    sym("GVL.stUnknown", "ST_Missing", 900, 8, 65),
])


def leaves_by_path() -> dict[str, object]:
    flat = flatten(parse_symbol_upload(SYMBOLS), parse_datatype_upload(TYPES))
    return {leaf.path: leaf for leaf in flat.leaves}


def test_symbol_upload_entries_are_read_by_their_length() -> None:
    symbols = parse_symbol_upload(SYMBOLS)
    assert [s.name for s in symbols][:3] == ["MAIN.fTemp", "MAIN.stOuter", "MAIN.aInner"]
    first = symbols[0]
    assert (first.index_group, first.index_offset, first.size, first.ads_type, first.type_name,
            first.comment) == (IG, 100, 4, 4, "REAL", "Boiler")
    assert symbols[5].flags & 0x20


def test_symbol_upload_as_pyads_test_server_packs_it() -> None:
    var = PLCVariable("MAIN.counter", 7, 3, "DINT", index_group=IG, index_offset=44)
    var.comment = "from pyads"
    (entry,) = parse_symbol_upload(var.get_packed_info())
    assert (entry.name, entry.type_name, entry.comment, entry.size, entry.index_offset) == (
        "MAIN.counter", "DINT", "from pyads", 4, 44)


@pytest.mark.parametrize("data", [struct.pack("<IIIIIHHHHH", 10, 0, 0, 0, 0, 0, 0, 0, 0, 0),
                                  struct.pack("<I", 999) + sym("A", "INT", 0, 2)[4:]])
def test_a_malformed_symbol_upload_is_refused(data: bytes) -> None:
    with pytest.raises(UploadError):
        parse_symbol_upload(data)


@pytest.mark.parametrize("data", [dt("X", "", 4)[:-1],
                                  dt("X", "", 4, items=(dt("a", "INT", 2)[:-2],))])
def test_a_malformed_datatype_upload_is_refused(data: bytes) -> None:
    with pytest.raises(UploadError):
        parse_datatype_upload(data)


def test_structs_nest_and_arrays_keep_their_bounds() -> None:
    leaves = leaves_by_path()
    x = leaves["MAIN.stOuter.fX"]
    assert (x.index_offset, x.type_name, x.comment) == (200, "REAL", "x axis")
    assert leaves["MAIN.stOuter.stIn.bB"].index_offset == 206
    assert leaves["MAIN.stOuter.stIn.nC"].index_offset == 207
    grid = {p: v.index_offset for p, v in leaves.items() if ".aGrid." in p}
    assert grid == {"MAIN.stOuter.aGrid.0.1": 210, "MAIN.stOuter.aGrid.0.2": 212,
                    "MAIN.stOuter.aGrid.1.1": 214, "MAIN.stOuter.aGrid.1.2": 216}
    assert leaves["MAIN.stOuter.aInline.6"].index_offset == 222
    assert leaves["MAIN.stOuter.sText"].codec.size == 11
    assert leaves["MAIN.aInner.2.nC"].index_offset == 300 + 6 + 3
    assert not any("nStatic" in p or "pProp" in p for p in leaves)


def test_enums_aliases_and_untyped_arrays_resolve_to_scalars() -> None:
    leaves = leaves_by_path()
    assert leaves["MAIN.eState"].codec == leaves["MAIN.eAlias"].codec
    assert leaves["MAIN.eState"].codec.fmt == "H"
    assert [leaves[f"GVL.aRaw.{i}"].index_offset for i in (1, 2, 3)] == [600, 604, 608]
    assert [leaves[f"GVL.aNeg.{i}"].index_offset for i in (-1, 0)] == [610, 611]


def test_what_cannot_be_resolved_is_skipped_and_named() -> None:
    flat = flatten(parse_symbol_upload(SYMBOLS), parse_datatype_upload(TYPES))
    assert set(flat.skipped) == {"GVL.pThing", "GVL.bBit", "GVL.stUnknown"}


def test_read_only_flag_reaches_every_leaf_and_meta() -> None:
    leaves = leaves_by_path()
    assert leaves["GVL.nVersion"].writable is False
    assert leaves["MAIN.stOuter.fX"].writable is True
    assert leaves["MAIN.fTemp"].meta() == {"type": "REAL", "size": 4, "comment": "Boiler",
                                           "index_group": IG, "index_offset": 100,
                                           "writable": True}


def test_flattening_stops_at_the_limit() -> None:
    flat = flatten(parse_symbol_upload(SYMBOLS), parse_datatype_upload(TYPES), limit=3)
    assert len(flat.leaves) == 3 and flat.truncated


def test_a_self_referencing_type_table_terminates() -> None:
    types = parse_datatype_upload(dt("T_Loop", "", 4, items=(dt("x", "T_Loop", 4, 0),)))
    flat = flatten(parse_symbol_upload(sym("MAIN.loop", "T_Loop", 0, 4)), types)
    assert flat.leaves == [] and flat.skipped


@pytest.mark.parametrize(("pattern", "path", "hit"), [
    ("MAIN.*", "MAIN.fTemp", True), ("MAIN.*", "MAIN.stOuter.stIn.bB", True),
    ("MAIN.*", "MAINX.a", False), ("MAIN.*", "GVL.MAIN.a", False),
    ("main.ftemp", "MAIN.fTemp", True), ("*.fTemp", "MAIN.fTemp", True),
    ("*.fTemp", "MAIN.fb.fTemp", False), ("**.fVoltage", "MAIN.fb.bat.fVoltage", True),
    ("MAIN.aGrid.1.*", "MAIN.aGrid.1.2", True), ("MAIN.aGrid.1.*", "MAIN.aGrid.10.2", False),
    ("MAIN.f[x]", "MAIN.f[x]", True), ("**", "anything.at.all", True),
])
def test_patterns_match_segments_and_everything_inside(pattern: str, path: str,
                                                       hit: bool) -> None:
    assert bool(compile_pattern(pattern).match(path)) is hit


def test_first_matching_rule_decides_mode_and_interval() -> None:
    rules = rules_from_config({"mode": "notify", "poll_interval_s": 2, "symbols": [
        {"pattern": "MAIN.stOuter.aGrid", "mode": "poll", "poll_interval_s": 0.5},
        "MAIN.stOuter", {"pattern": "GVL.*", "mode": "poll"}]})
    chosen = {leaf.path: rule for leaf, rule in select(list(leaves_by_path().values()), rules)}
    assert chosen["MAIN.stOuter.aGrid.0.1"].mode == "poll"
    assert chosen["MAIN.stOuter.aGrid.0.1"].poll_interval_s == 0.5
    assert chosen["MAIN.stOuter.fX"].mode == "notify"
    assert (chosen["GVL.nVersion"].mode, chosen["GVL.nVersion"].poll_interval_s) == ("poll", 2)
    assert "MAIN.fTemp" not in chosen
    everything = select(list(leaves_by_path().values()), rules_from_config({}))
    assert len(everything) == len(leaves_by_path())


def test_blocks_cover_each_symbol_once_and_slice_their_leaves() -> None:
    rules = rules_from_config({"symbols": ["MAIN.stOuter.stIn", "MAIN.fTemp",
                                           {"pattern": "GVL.aRaw", "mode": "poll"}]})
    groups = blocks(select(list(leaves_by_path().values()), rules))
    notify = {b.start: b for b in groups[("notify", 0.0)]}
    assert {(b.start, b.size) for b in notify.values()} == {(100, 4), (204, 4)}
    assert groups[("poll", 1.0)] == [Block(IG, 600, 12, groups[("poll", 1.0)][0].leaves)]
    raw = struct.pack("<hBB", -2, 1, 9)
    assert [(leaf.path, part) for leaf, part in notify[204].parts(raw)] == [
        ("MAIN.stOuter.stIn.nA", raw[:2]), ("MAIN.stOuter.stIn.bB", b"\x01"),
        ("MAIN.stOuter.stIn.nC", b"\x09")]
