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
    from edgeos.ipc.broker._fastpath import run as c_run
except ImportError:
    if shutil.which("cc") or shutil.which("gcc"):
        raise  # a compiler is here, so `pip install -e .` should have built it
    c_run = None  # a machine without a compiler runs the Python path only

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


def state(d: Dispatcher) -> dict[str, Any]:
    return {
        "values": sorted(d.values.items()),
        "outbox": {k: list(v) for k, v in d.outbox.items() if v},
        "routes": d.router.counters(),
        "loops": d.router.loops_stopped,
        "counters": dict(d.counters),
        "unsaved": sorted((s, p[0][0]) for s, ps in d.values.unsaved.items() for p in ps),
    }


good_item = st.tuples(st.sampled_from(PATHS), st.integers(-5, 5) | st.booleans(),
                      st.integers(0, 10), st.sampled_from(protocol.QUALITIES),
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
    assert d.outbox["dst"] == [("a", 1, 5, ("src.a",)), ("b1", 2, 6, ("src.b",)),
                               ("b2", 2, 6, ("src.b",)), ("again", 2, 6, ("src.b",)),
                               ("a", 3, 7, ("src.a",))]
    assert d.outbox["bt.bms_001"] == [("x", 2, 6, ("src.b",))]
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
    assert d.outbox["dst"] == [("a", 1, 5, ("src.a",)), ("z", 2, 6, ("src.a",))]


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
