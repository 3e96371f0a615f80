"""The broker's fast path against its general path.

Whatever the fast path (``_fastpath.c`` or its Python reference) takes, it must leave
exactly what the general path (:meth:`Dispatcher.item`, which asks the router for
every datapoint) would: the same last values, the same commands in the same order,
the same route counters. Hypothesis throws mixed batches at three dispatchers, one per
path, and compares everything they leave.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from edgeos.ipc import protocol
from edgeos.ipc.broker import fastpath
from edgeos.ipc.broker.dispatch import Dispatcher
from edgeos.ipc.broker.store import LastValues
from edgeos.ipc.routing import Router, load_routing
from hypothesis import given, settings
from hypothesis import strategies as st

INSTANCES = ["src", "dst", "bt", "bt.bms_001"]
ROUTES = [
    {"id": "plain", "from": "src.a", "to": "dst.a"},
    {"id": "multi", "from": "src.b", "to": ["dst.b1", "dst.b2", "bt.bms_001.x"]},
    {"id": "twice", "from": "src.b", "to": "dst.again"},
    {"id": "wild", "from": "src.w.*", "to": "dst.w"},
    {"id": "scaled", "from": "src.c", "to": "dst.c", "transform": "scale(2)"},
    {"id": "cond", "from": "src.d", "to": "dst.d", "condition": "value > old"},
    {"id": "logged", "from": "src.e", "to": "log.test"},
    {"id": "self", "from": "src.f", "to": ["src.f", "dst.f"]},
    {"id": "back", "from": "src.g", "to": "dst.g", "bidirectional": True},
    {"id": "off", "from": "src.h", "to": "dst.h", "enabled": False},
    {"id": "dotted", "from": "bt.bms_001.v", "to": "dst.v"},
]
try:
    from edgeos.ipc.broker._fastpath import join as c_join
    from edgeos.ipc.broker._fastpath import run as c_run
except ImportError:
    if shutil.which("cc") or shutil.which("gcc"):
        raise  # a compiler is here, so `pip install -e .` should have built it
    c_run = c_join = None  # a machine without a compiler runs the Python path only

FAST_PATHS = {"python": fastpath.run, **({"c": c_run} if c_run else {})}

PATHS = ["a", "b", "c", "d", "e", "f", "g", "h", "w.1", "w.2", "none", "x.y"]


def general(items: Any, start: int, points: Any, unsaved: Any) -> int:
    """A fast path that takes nothing: every datapoint goes the general way."""
    return start


def dispatcher(tmp_path: Path, name: str, fast: Any) -> Dispatcher:
    table = load_routing({"routes": ROUTES}, source="routing.json",
                         instance_ids=[*INSTANCES, "log"])
    values = LastValues(tmp_path / f"{name}.db")
    router = Router(table, lambda address: (values.get(address) or (None, None))[1])
    return Dispatcher(values, router, INSTANCES, defaultdict(int), fast=fast)


def wire(commands: list[Any]) -> list[Any]:
    """Queued commands as the worker gets them: the fast path queues them encoded, the
    general path as tuples (one msgpack cannot encode, an int beyond 64 bits, as it is:
    the fast path leaves those to the general path)."""
    return [c if type(c) is bytes else packed(c) for c in commands]


def packed(command: tuple[Any, ...]) -> Any:
    try:
        return protocol.pack(command)
    except OverflowError:
        return command


def state(d: Dispatcher) -> dict[str, Any]:
    return {
        "values": sorted(d.values.items()),
        "outbox": {k: wire(v) for k, v in d.outbox.items() if v},
        "routes": d.router.counters(),
        "loops": d.router.loops_stopped,
        "counters": dict(d.counters),
        "unsaved": sorted((s, p[0][0]) for s, ps in d.values.unsaved.items() for p in ps),
    }


good_item = st.tuples(st.sampled_from(PATHS), st.integers(-5, 5) | st.booleans()
                      | st.floats() | st.none() | st.text(max_size=3)
                      | st.lists(st.integers(), max_size=2).map(tuple),
                      st.integers(0, 10) | st.sampled_from([1.5, None, -(2**63) - 1]),
                      st.sampled_from(protocol.QUALITIES),
                      st.just(True), st.none() | st.just("V"))
odd_item = st.one_of(
    st.tuples(st.sampled_from(PATHS), st.integers(), st.integers(0, 9),
              st.sampled_from(["good", "bogus", 3]), st.sampled_from([True, False, 1, 0]),
              st.none()),
    st.tuples(st.sampled_from(PATHS), st.integers(), st.integers(0, 9), st.just("good"),
              st.just(True), st.none(), st.lists(st.sampled_from(["dst.a", "x.y"]),
                                                 max_size=9).map(tuple)),
    st.tuples(st.integers() | st.none(), st.integers()),
    st.integers(),
    st.lists(st.sampled_from(PATHS), min_size=6, max_size=6),
)
batches = st.lists(st.lists(good_item | odd_item, max_size=30).map(tuple), max_size=4)


@pytest.mark.slow  # ~20 s: its file goes out among the first (tests/scheduling.py)
@pytest.mark.timeout(600)  # 300 examples of three SQLite-backed dispatchers: slow on a busy CI
@settings(max_examples=300, deadline=None)
@given(batches=batches, source=st.sampled_from(["src", "bt.bms_001", "bt"]))
def test_fast_paths_leave_what_the_general_path_leaves(tmp_path_factory, batches,
                                                       source) -> None:
    tmp = tmp_path_factory.mktemp("dispatch")
    ds = {name: dispatcher(tmp, name, fast)
          for name, fast in {"general": general, **FAST_PATHS}.items()}
    for batch in batches:
        results = {name: d.batch(source, batch) for name, d in ds.items()}
        assert len(set(results.values())) == 1, results
    expected = state(ds.pop("general"))
    for name, d in ds.items():
        assert state(d) == expected, name


@pytest.mark.parametrize("run", FAST_PATHS.values(), ids=FAST_PATHS.keys())
def test_the_fast_path_takes_plain_routes_and_counts_them(tmp_path, run) -> None:
    d = dispatcher(tmp_path, "d", run)
    d.batch("src", (("a", 1, 5, "good", True, None), ("b", 2, 6, "good", True, "V")))
    points, _ = d.values.of("src")
    assert type(points["a"][1]) is tuple and type(points["b"][1]) is tuple  # planned
    # The second batch is all fast path: the plans are made.
    assert run((("a", 3, 7, "good", True, None),), 0, points, d.values.unsaved["src"]) == 1
    assert wire(d.outbox["dst"]) == wire([
        ("a", 1, 5, ("src.a",)), ("b1", 2, 6, ("src.b",)), ("b2", 2, 6, ("src.b",)),
        ("again", 2, 6, ("src.b",)), ("a", 3, 7, ("src.a",))])
    assert type(d.outbox["dst"][-1]) is bytes  # queued encoded
    assert wire(d.outbox["bt.bms_001"]) == wire([("x", 2, 6, ("src.b",))])
    routes = d.router.counters()
    assert (routes["plain"]["fired"], routes["plain"]["last_fired_ts"]) == (2, 7)
    assert (routes["multi"]["fired"], routes["twice"]["fired"]) == (1, 1)
    assert d.values.get("src.a")[1] == 3


@pytest.mark.parametrize("run", FAST_PATHS.values(), ids=FAST_PATHS.keys())
def test_a_reload_replans(tmp_path, run) -> None:
    d = dispatcher(tmp_path, "d", run)
    d.batch("src", (("a", 1, 5, "good", True, None),))
    table = load_routing({"routes": [{"id": "new", "from": "src.a", "to": "dst.z"}]},
                         source="routing.json", instance_ids=[*INSTANCES, "log"])
    d.swap(table)
    d.batch("src", (("a", 2, 6, "good", True, None),))
    assert wire(d.outbox["dst"]) == wire([("a", 1, 5, ("src.a",)), ("z", 2, 6, ("src.a",))])


@pytest.mark.parametrize("run", FAST_PATHS.values(), ids=FAST_PATHS.keys())
def test_run_refuses_what_it_cannot_take(run) -> None:
    points = {"a": [None, (), False], "n": [None, None, False]}
    unsaved: list[Any] = []
    items = (("a", 1, 0, "good", True, None), ("a", 1, 0, "good", False, None),
             ("n", 1, 0, "good", True, None), ("a", 1, 0, "good", True, None, ["x"]),
             ("new", 1, 0, "good", True, None), ("a", 1, 0, "ok", True, None))
    stops = []
    i = 0
    while (i := run(items, i, points, unsaved)) < len(items):
        stops.append(i)
        i += 1
    assert stops == [1, 2, 3, 4, 5]
    assert unsaved == [points["a"]] and points["a"][0] is items[0]


SCALARS = (st.none() | st.booleans() | st.floats()
           | st.integers(-(2**63) - 2, 2**64 + 1)
           | st.sampled_from([-(2**63), -(2**63) - 1, -2**31 - 1, -2**31, -2**15 - 1, -2**15,
                              -129, -128, -33, -32, -1, 0, 127, 128, 255, 256, 65535, 65536,
                              2**32 - 1, 2**32, 2**64 - 1, 2**64])
           | st.text() | st.text(min_size=31, max_size=33) | st.text(min_size=255, max_size=257)
           | st.sampled_from(["x" * 65535, "y" * 65536, "\ud800", "é" * 40]))


@settings(max_examples=500, deadline=None)
@given(value=SCALARS | st.binary(max_size=3) | st.lists(st.integers(), max_size=2).map(tuple),
       ts=st.integers(-(2**63) - 2, 2**64 + 1) | st.sampled_from([0, 1.5, None, "7"]))
@pytest.mark.parametrize("run", FAST_PATHS.values(), ids=FAST_PATHS.keys())
def test_a_command_is_queued_as_msgpack_writes_it(run, value, ts) -> None:
    """What the fast path queues is byte for byte what packing the command would give;
    a value or ts it does not encode is left to the general path, with nothing stored."""
    outbox: list[Any] = []
    tally = [0, None]
    point = [None, ((outbox, fastpath.head("q"), protocol.pack(("src.p",)), tally),), False]
    item = ("p", value, ts, "good", True, None)
    try:
        expected = protocol.pack(("q", value, ts, ("src.p",)))
    except (OverflowError, ValueError):  # ValueError: a lone surrogate
        expected = None
    taken = run((item,), 0, {"p": point}, [])
    if taken == 0:
        assert point == [None, point[1], False] and outbox == [] and tally == [0, None]
        assert expected is None or type(value) not in (int, float, bool, str, type(None)) \
            or type(ts) is not int
    else:
        assert outbox == [expected] and tally == [1, ts] and point[0] is item


@pytest.mark.parametrize("n", [0, 1, 15, 16, 65535, 65536])
def test_join_makes_the_cmd_body(n) -> None:
    commands = [protocol.pack(("q", i, 0, ("src.p",))) for i in range(n)]
    joins = [fastpath.join] + ([c_join] if c_run else [])
    for join in joins:
        body = join(commands)
        assert body is not None and protocol.unpack(body) == [["q", i, 0, ["src.p"]]
                                                               for i in range(n)]
        assert join([*commands, ("q", 1, 0, ())]) is None
    mixed = [*commands[:2], ("q", 9, 0, ("src.p",), 4)]
    assert protocol.unpack(fastpath.pack_commands(mixed)) == [
        *[["q", i, 0, ["src.p"]] for i in range(min(n, 2))], ["q", 9, 0, ["src.p"], 4]]
