"""The router: forward and reverse routing, state, loops, dry runs, swaps, counters."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from edgeos.ipc.routing import MAX_HOPS, Delivery, Router, RouteTable, RoutingError, load_routing
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.routing.examples import CONTRACT_EXAMPLE, CONTRACT_INSTANCES

RouterOf = Callable[..., Router]


def send(router: Router, address: str, value: Any, **keys: Any) -> list[Delivery]:
    return router.route(
        address,
        value,
        keys.get("ts", 1000),
        keys.get("quality", "good"),
        keys.get("ack", True),
        keys.get("origin", ()),
    )


def route(**keys: Any) -> dict[str, Any]:
    return {"id": "r1", "from": "plc_001.a", "to": "plc_001.b", **keys}


def test_contract_examples_route_as_written() -> None:
    table = load_routing(CONTRACT_EXAMPLE, source="routing.json", instance_ids=CONTRACT_INSTANCES)
    router = Router(table, lookup=lambda address: None)
    assert send(router, "bt.bms_001.voltage", 12800) == [
        Delivery("plc_001.MAIN.fbBattery.fVoltage", 12.8, "bms_to_plc")
    ]
    assert send(router, "plc_001.MAIN.bAlarmActive", True) == [
        Delivery("mqtt.broker_local.alarms/critical", True, "alarm_multi_target"),
        Delivery("webhook.alert_service", True, "alarm_multi_target"),
        Delivery("log.system", True, "alarm_multi_target"),
    ]
    assert send(router, "plc_001.MAIN.bAlarmActive", False) == []
    counters = router.counters()
    assert counters["bms_to_plc"]["fired"] == 1
    assert counters["alarm_multi_target"] == {
        "fired": 1,
        "suppressed": 1,
        "errors": 0,
        "last_fired_ts": 1000,
        "last_error": None,
        "refused": 0,
        "last_refusal": None,
    }


def test_nothing_matches_nothing_happens(router_of: RouterOf) -> None:
    router = router_of(route())
    assert send(router, "plc_001.other", 1) == []
    assert send(router, "plc_001.a.b", 1) == []
    assert send(router, "plc_001.a", 1, ack=False) == []  # a command on from: no forward


def test_routes_fire_in_file_order_exact_and_wildcard(router_of: RouterOf) -> None:
    router = router_of(
        route(id="all", **{"from": "plc_001.**", "to": "log.all"}),
        route(id="exact", to="log.exact"),
        route(id="one", **{"from": "*.a", "to": "log.one"}),
    )
    assert [d.route_id for d in send(router, "plc_001.a", 1)] == ["all", "exact", "one"]
    assert [d.route_id for d in send(router, "plc_001.x.y", 1)] == ["all"]


def test_match_is_computed_once_per_address(router_of: RouterOf) -> None:
    router = router_of(route(**{"from": "plc_001.*"}))
    calls: list[str] = []
    original = router.table.forward_candidates

    def counting(address: str) -> Any:
        calls.append(address)
        return original(address)

    router.table.forward_candidates = counting  # type: ignore[method-assign]
    for _ in range(3):
        send(router, "plc_001.a", 1)
        send(router, "plc_001.q.r", 1)
    assert calls == ["plc_001.a", "plc_001.q.r"]


def test_disabled_routes_do_not_fire(router_of: RouterOf) -> None:
    router = router_of(route(enabled=False))
    assert send(router, "plc_001.a", 1) == []
    assert router.counters()["r1"]["suppressed"] == 0


def test_transforms_apply_in_order(router_of: RouterOf) -> None:
    router = router_of(route(transform=["offset(1)", "scale(10)", "round(0)"]))
    assert send(router, "plc_001.a", 0.26) == [Delivery("plc_001.b", 13, "r1")]


def test_condition_sees_raw_value_old_and_other_datapoints(
    router_of: RouterOf, values: dict[str, Any]
) -> None:
    router = router_of(
        route(
            condition="value != old and dp('plc_001.mode') == 'auto' and quality == 'good'",
            transform="scale(100)",
        )
    )
    values.update({"plc_001.a": 1, "plc_001.mode": "auto"})
    assert send(router, "plc_001.a", 1) == []  # unchanged
    assert send(router, "plc_001.a", 2) == [Delivery("plc_001.b", 200, "r1")]
    assert send(router, "plc_001.a", 3, quality="bad") == []
    values["plc_001.mode"] = "manual"
    assert send(router, "plc_001.a", 4) == []
    assert router.counters()["r1"]["suppressed"] == 3


def test_condition_uses_ts(router_of: RouterOf) -> None:
    router = router_of(route(condition="ts % 2 == 0"))
    assert send(router, "plc_001.a", 1, ts=2) != []
    assert send(router, "plc_001.a", 1, ts=3) == []


def test_runtime_errors_are_counted_not_raised(
    router_of: RouterOf, caplog: pytest.LogCaptureFixture
) -> None:
    router = router_of(
        route(id="cmp", condition="value > 10"),
        route(id="tr", transform="scale(2)"),
        route(id="ok", to="log.x"),
    )
    assert send(router, "plc_001.a", None) == [Delivery("log.x", None, "ok")]
    assert send(router, "plc_001.a", "text") == [Delivery("log.x", "text", "ok")]
    counters = router.counters()
    assert counters["cmp"]["errors"] == 2
    assert "condition 'value > 10'" in counters["cmp"]["last_error"]
    assert counters["tr"]["errors"] == 2
    assert "transform 'scale(2)'" in counters["tr"]["last_error"]
    assert counters["ok"]["errors"] == 0
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2  # the first error of each route; the rest at debug level


def test_a_failing_lookup_is_a_route_error(table_of: Callable[..., RouteTable]) -> None:
    def broken(address: str) -> Any:
        raise RuntimeError("store closed")

    router = Router(table_of(route(condition="old == 1")), lookup=broken)
    assert send(router, "plc_001.a", 1) == []
    assert "store closed" in router.counters()["r1"]["last_error"]


def test_stateful_transforms_keep_state_per_route_and_address(router_of: RouterOf) -> None:
    router = router_of(
        route(id="wild", **{"from": "plc_001.*", "to": "log.x", "transform": "deadband(1)"}),
        route(id="exact", **{"from": "plc_001.a", "to": "log.y", "transform": "deadband(1)"}),
    )

    def fired(address: str, value: float) -> list[str]:
        return [d.route_id for d in send(router, address, value)]

    assert fired("plc_001.a", 10) == ["wild", "exact"]
    assert fired("plc_001.b", 10.5) == ["wild"]  # another address: its own first value
    assert fired("plc_001.a", 10.5) == []
    assert fired("plc_001.b", 10.9) == []
    assert fired("plc_001.b", 11.5) == ["wild"]
    assert fired("plc_001.a", 11) == ["wild", "exact"]
    assert router.counters()["wild"]["suppressed"] == 2


def test_throttle_and_window_use_the_router_clock(router_of: RouterOf, clock: Any) -> None:
    router = router_of(
        route(id="slow", transform="throttle(10)", to="log.slow"),
        route(id="mean", transform="avg(60)", to="log.mean"),
    )

    def deliveries(value: float) -> dict[str, Any]:
        return {d.route_id: d.value for d in send(router, "plc_001.a", value)}

    assert deliveries(1) == {"slow": 1, "mean": 1.0}
    clock.now += 5
    assert deliveries(3) == {"mean": 2.0}
    clock.now += 5
    assert deliveries(5) == {"slow": 5, "mean": 3.0}
    clock.now += 59
    assert deliveries(7) == {"slow": 7, "mean": 6.0}  # t=0 and t=5 have left the window


def test_schedule_gates_the_route(router_of: RouterOf, clock: Any) -> None:
    router = router_of(route(schedule={"from": "06:00", "to": "22:00"}))
    clock.now = time.mktime((2024, 1, 3, 12, 0, 0, 0, 0, -1))
    assert send(router, "plc_001.a", 1) != []
    clock.now = time.mktime((2024, 1, 3, 23, 0, 0, 0, 0, -1))
    assert send(router, "plc_001.a", 1) == []
    assert router.counters()["r1"]["suppressed"] == 1


# ---- loops ---------------------------------------------------------------------------------


def test_never_delivers_to_the_source_or_the_origin(router_of: RouterOf) -> None:
    router = router_of(
        route(id="wild", **{"from": "plc_001.*", "to": ["plc_001.a", "log.x"]}),
    )
    assert send(router, "plc_001.a", 1) == [Delivery("log.x", 1, "wild")]
    assert send(router, "plc_001.q", 1, origin=("log.x",)) == [Delivery("plc_001.a", 1, "wild")]
    assert send(router, "plc_001.q", 1, origin=("log.x", "plc_001.a")) == []
    assert router.loops_stopped == 4  # one per target left out
    assert router.counters()["wild"]["fired"] == 2


def test_hop_limit(router_of: RouterOf) -> None:
    chain = [route(id=f"hop{n}", **{"from": f"plc_001.x{n}", "to": f"plc_001.x{n + 1}"})
             for n in range(20)]  # fmt: skip
    router = router_of(*chain)
    # The broker feeds each delivery back in (as if the device reported it) with the origin.
    address, origin, hops = "plc_001.x0", (), 0
    while True:
        deliveries = send(router, address, 1, origin=origin)
        if not deliveries:
            break
        (delivery,) = deliveries
        origin, address, hops = (*origin, address), delivery.target, hops + 1
    assert hops == MAX_HOPS
    assert router.loops_stopped == 1


def test_cycle_stops_at_the_origin(router_of: RouterOf) -> None:
    router = router_of(
        route(id="ab", **{"from": "plc_001.a", "to": "plc_001.b"}),
        route(id="ba", **{"from": "plc_001.b", "to": "plc_001.a"}),
    )
    assert router.table.warnings  # the cycle was reported at load
    first = send(router, "plc_001.a", 1)
    assert first == [Delivery("plc_001.b", 1, "ab")]
    assert send(router, "plc_001.b", 1, origin=("plc_001.a",)) == []
    assert router.loops_stopped == 1


# ---- bidirectional -------------------------------------------------------------------------


@pytest.fixture
def mirror(router_of: RouterOf) -> Router:
    return router_of(
        route(
            id="mirror",
            bidirectional=True,
            to=["plc_001.b", "mqtt.broker_local.b"],
            transform=["scale(2)", "offset(1)", 'map({"5": "five"})'],
        )
    )


def test_forward_and_reverse(mirror: Router) -> None:
    assert send(mirror, "plc_001.a", 2) == [
        Delivery("plc_001.b", "five", "mirror"),
        Delivery("mqtt.broker_local.b", "five", "mirror"),
    ]
    # a command on a target flows back through the inverse steps in reverse order
    assert send(mirror, "mqtt.broker_local.b", "five", ack=False) == [
        Delivery("plc_001.a", 2.0, "mirror")
    ]
    assert send(mirror, "plc_001.b", 21, ack=False) == [Delivery("plc_001.a", 10.0, "mirror")]
    # a reported value on a target does not flow back
    assert send(mirror, "plc_001.b", 21) == []
    assert mirror.counters()["mirror"]["fired"] == 3


def test_bidirectional_never_loops_back(mirror: Router) -> None:
    """The broker passes every delivery back in as a command, with the origin chain."""
    pending = [("plc_001.a", 2, True, ())]
    seen = []
    while pending:
        address, value, ack, origin = pending.pop()
        for delivery in send(mirror, address, value, ack=ack, origin=origin):
            seen.append(delivery.target)
            pending.append((delivery.target, delivery.value, False, (*origin, address)))
    assert seen == ["plc_001.b", "mqtt.broker_local.b"]
    assert mirror.loops_stopped == 2


def test_reverse_applies_schedule_and_condition_in_source_units(
    router_of: RouterOf, values: dict[str, Any], clock: Any
) -> None:
    router = router_of(
        route(
            bidirectional=True,
            transform="scale(10)",
            condition="value <= 5 and dp('plc_001.manual') != true",
        )
    )
    assert send(router, "plc_001.b", 50, ack=False) == [Delivery("plc_001.a", 5.0, "r1")]
    assert send(router, "plc_001.b", 60, ack=False) == []
    values["plc_001.manual"] = True
    assert send(router, "plc_001.b", 10, ack=False) == []
    assert send(router, "plc_001.b", "x", ack=False) == []
    counters = router.counters()["r1"]
    assert (counters["fired"], counters["suppressed"], counters["errors"]) == (1, 2, 1)


def test_only_bidirectional_routes_carry_commands_back(router_of: RouterOf) -> None:
    router = router_of(route())
    assert send(router, "plc_001.b", 1, ack=False) == []


# ---- dry run -------------------------------------------------------------------------------


def test_dry_run_reports_each_candidate(router_of: RouterOf, values: dict[str, Any]) -> None:
    router = router_of(
        route(id="fires", transform=["scale(0.001)", "round(2)"], to=["log.x", "log.y"]),
        route(id="off", enabled=False),
        route(id="cond", condition="value > 100000"),
        route(id="bad", condition="value > 'a'"),
        route(id="self", **{"from": "plc_001.*", "to": "plc_001.a"}),
        route(id="other", **{"from": "plc_001.z"}),
    )
    report = {entry["route"]: entry for entry in router.dry_run("plc_001.a", 12345)}
    assert list(report) == ["fires", "off", "cond", "bad", "self"]
    assert report["fires"] == {
        "route": "fires",
        "fired": True,
        "reason": None,
        "steps": [
            {"transform": "scale(0.001)", "value": 12.345},
            {"transform": "round(2)", "value": 12.35},
        ],
        "deliveries": [{"target": "log.x", "value": 12.35}, {"target": "log.y", "value": 12.35}],
    }
    assert report["off"]["reason"] == "disabled"
    assert report["cond"]["reason"] == "condition false"
    assert report["bad"]["reason"].startswith("error: condition 'value > 'a''")
    assert report["self"]["fired"] is False
    assert report["self"]["reason"].startswith("loop")


def test_dry_run_changes_no_state_and_no_counter(router_of: RouterOf, clock: Any) -> None:
    router = router_of(
        route(id="band", transform="deadband(0.5)", to="log.x"),
        route(id="slow", transform="throttle(60)", to="log.y"),
    )
    assert router.dry_run("plc_001.a", 10)[0]["fired"] is True
    assert router.dry_run("plc_001.a", 10)[0]["fired"] is True  # still the first value
    assert send(router, "plc_001.a", 10) == [
        Delivery("log.x", 10, "band"),
        Delivery("log.y", 10, "slow"),
    ]

    def snapshot() -> str:
        live = router._generation.live
        return repr(
            (router.counters(), router.loops_stopped, live["band"].states, live["slow"].states)
        )

    before = snapshot()
    report = router.dry_run("plc_001.a", 10.2)
    assert [entry["reason"] for entry in report] == [
        "suppressed by deadband(0.5)",
        "suppressed by throttle(60)",
    ]
    assert router.dry_run("plc_001.a", 11)[0]["fired"] is True
    assert snapshot() == before
    assert send(router, "plc_001.a", 10.2) == []  # the real state still says 10


def test_dry_run_of_a_command(mirror: Router) -> None:
    (entry,) = mirror.dry_run("plc_001.b", "five", ack=False)
    assert entry["fired"] is True
    assert entry["steps"] == [
        {"transform": 'inverse of map({"5": "five"})', "value": 5},
        {"transform": "inverse of offset(1)", "value": 4},
        {"transform": "inverse of scale(2)", "value": 2.0},
    ]
    assert entry["deliveries"] == [{"target": "plc_001.a", "value": 2.0}]
    assert mirror.counters()["mirror"]["fired"] == 0


def test_dry_run_outside_schedule(router_of: RouterOf, clock: Any) -> None:
    router = router_of(route(schedule={"from": "06:00", "to": "07:00"}))
    clock.now = time.mktime((2024, 1, 3, 12, 0, 0, 0, 0, -1))
    assert router.dry_run("plc_001.a", 1)[0]["reason"] == "outside schedule"


# ---- swap ----------------------------------------------------------------------------------


def test_swap_keeps_state_and_counters_of_unchanged_routes(
    router_of: RouterOf, table_of: Callable[..., RouteTable]
) -> None:
    kept = route(id="kept", transform="deadband(1)", to="log.k")
    changed = route(id="changed", transform="deadband(1)", to="log.c")
    router = router_of(kept, changed, route(id="gone", to="log.g"))
    send(router, "plc_001.a", 10)
    router.swap(
        table_of(
            {**kept, "description": "only the text changed"},
            {**changed, "transform": "deadband(2)"},
            route(id="new", **{"from": "plc_001.*", "to": "log.n"}),
        )
    )
    counters = router.counters()
    assert set(counters) == {"kept", "changed", "new"}
    assert counters["kept"]["fired"] == 1
    assert counters["changed"]["fired"] == 0
    # kept remembers 10 (suppresses 10.5); changed starts afresh; new is matched at once
    assert [d.route_id for d in send(router, "plc_001.a", 10.5)] == ["changed", "new"]
    assert router.table.routes[0].description == "only the text changed"


def test_swap_replaces_the_match_cache(
    router_of: RouterOf, table_of: Callable[..., RouteTable]
) -> None:
    router = router_of(route())
    assert send(router, "plc_001.q", 1) == []
    router.swap(table_of(route(**{"from": "plc_001.q"})))
    assert send(router, "plc_001.q", 1) == [Delivery("plc_001.b", 1, "r1")]
    assert send(router, "plc_001.a", 1) == []


# ---- fuzzing through the loader ------------------------------------------------------------

CONDITION_TOKENS = st.sampled_from(
    [
        "value", "old", "ts", "quality", "dp('plc_001.mode')", "dp('nope.x')", "true", "null",
        "__class__", "__import__", "x", "1", "0", "-2.5", "'good'", "(", ")", "[", "]", ",",
        ".", "+", "-", "*", "**", "/", "%", "==", "<", ">=", "and", "or", "not", "in", "is",
        "lambda", "abs", "len", "min", "max", "round", "int", "str", "{", "}", ":",
    ]
)  # fmt: skip
TRANSFORM_TEXTS = st.sampled_from(
    ["scale(2)", "offset(-1)", "round(1)", "clamp(0, 10)", "invert()", "map({'1': 'on'})",
     "deadband(0.5)", "throttle(1)", "avg(5)", "min(5)", "max(5)", "to_bool()", "to_int()",
     "to_float()", "scale()", "nope(1)", "map({1: 2, 1: 3})"]
)  # fmt: skip
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers()),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    condition=st.lists(CONDITION_TOKENS, min_size=1, max_size=10).map(" ".join),
    transforms=st.lists(TRANSFORM_TEXTS, max_size=3),
    bidirectional=st.booleans(),
    value=VALUES,
    ack=st.booleans(),
)
def test_any_route_loads_or_is_refused_and_routing_never_raises(
    condition: str, transforms: list[str], bidirectional: bool, value: Any, ack: bool
) -> None:
    doc = {
        "routes": [
            route(condition=condition, transform=transforms, bidirectional=bidirectional),
            route(id="plain", to="log.x"),
        ]
    }
    try:
        table = load_routing(doc, source="routing.json", instance_ids=["plc_001"])
    except RoutingError as exc:
        assert all(error.startswith("routing.json: route 'r1': ") for error in exc.errors)
        return
    router = Router(table, lookup={"plc_001.mode": "auto", "plc_001.a": 1}.get)
    address = "plc_001.a" if ack else "plc_001.b"
    deliveries = router.route(address, value, 0, "good", ack)
    assert all(isinstance(delivery, Delivery) for delivery in deliveries)
    router.dry_run(address, value, ack)


def test_a_refused_write_counts_on_the_routes_between_source_and_target() -> None:
    table = load_routing({"routes": [
        {"id": "fwd", "from": "a.x", "to": ["b.y", "c.z"]},
        {"id": "other", "from": "a.x", "to": "c.z"},
        {"id": "back", "from": "b.q", "to": "a.w", "bidirectional": True},
    ]}, source="routing.json", instance_ids=["a", "b", "c"])
    router = Router(table, lookup=lambda address: None)
    assert router.count_refusal("a.x", "b.y", "b.y is read-only") == ["fwd"]
    assert router.count_refusal("a.w", "b.q", "bad value") == ["back"]  # the way back
    assert router.count_refusal("a.x", "d.d", "nobody") == []
    counters = router.counters()
    assert (counters["fwd"]["refused"], counters["fwd"]["last_refusal"]) == (1, "b.y is read-only")
    assert counters["back"]["refused"] == 1 and counters["other"]["refused"] == 0
