"""Shared fixtures for the routing engine tests: the CONTRACT section 5 instances."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from edgeos.ipc.routing import Router, RouteTable, load_routing

INSTANCES = ("bt.bms_001", "plc_001", "mqtt.broker_local", "webhook.alert_service", "bt")


class FakeClock:
    """A settable clock for throttle, windows and schedules."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def values() -> dict[str, Any]:
    """The broker's last-value store as the router sees it through lookup()."""
    return {}


@pytest.fixture
def table_of() -> Callable[..., RouteTable]:
    def build(*routes: dict[str, Any], source: str = "routing.json") -> RouteTable:
        return load_routing(
            {"version": "1.0", "routes": list(routes)}, source=source, instance_ids=INSTANCES
        )

    return build


@pytest.fixture
def router_of(
    table_of: Callable[..., RouteTable], clock: FakeClock, values: dict[str, Any]
) -> Callable[..., Router]:
    def build(*routes: dict[str, Any]) -> Router:
        return Router(table_of(*routes), lookup=values.get, clock=clock)

    return build
