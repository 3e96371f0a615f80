"""Circuit breaker and poller policy, driven by a fake clock (no sleeping)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from edgeos.workers.mbus.master import (
    CircuitBreaker,
    MBusTimeout,
    Meter,
    Poller,
    PortError,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_opens_after_threshold_and_backs_off_exponentially(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=2, base_delay_s=10, max_delay_s=35, clock=clock)
    breaker.record_failure("m")
    assert breaker.state("m") == "closed" and breaker.allow("m")
    breaker.record_failure("m")
    assert breaker.state("m") == "open" and not breaker.allow("m")
    assert breaker.retry_at("m") == 1010

    delays = []
    for _ in range(4):
        clock.now = breaker.retry_at("m") or 0
        assert breaker.state("m") == "half_open" and breaker.allow("m")
        breaker.record_failure("m")  # the retry fails: wait twice as long, capped
        delays.append((breaker.retry_at("m") or 0) - clock.now)
    assert delays == [20, 35, 35, 35]


def test_success_closes_and_resets(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=1, base_delay_s=10, clock=clock)
    breaker.record_failure("m")
    clock.now += 10
    breaker.record_success("m")
    assert breaker.state("m") == "closed" and breaker.retry_at("m") is None
    breaker.record_failure("m")
    assert breaker.retry_at("m") == clock.now + 10  # back to the base delay


def test_keys_are_independent(clock: FakeClock) -> None:
    breaker = CircuitBreaker(threshold=1, clock=clock)
    breaker.record_failure("a")
    assert not breaker.allow("a") and breaker.allow("b")


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(threshold=0)


class ScriptedMaster:
    """Stands in for Master: meters in `offline` time out, the rest answer."""

    def __init__(self) -> None:
        self.offline: set[str] = set()
        self.port_broken = False
        self.asked: list[str] = []
        self.closed = False

    def read(self, meter: Meter) -> dict[str, Any]:
        self.asked.append(meter.key)
        if self.port_broken:
            raise PortError("serial port gone")
        if meter.key in self.offline:
            raise MBusTimeout("no answer within 1 s")
        return {"id": meter.key}

    def close(self) -> None:
        self.closed = True


def make_poller(clock: FakeClock) -> tuple[Poller, ScriptedMaster, Meter, Meter]:
    master = ScriptedMaster()
    good, bad = Meter(address=1), Meter(address=2)
    breaker = CircuitBreaker(threshold=2, base_delay_s=60, clock=clock)
    return Poller(master, [good, bad], breaker), master, good, bad  # type: ignore[arg-type]


def test_offline_meter_is_skipped_until_retry_while_others_are_read(clock: FakeClock) -> None:
    poller, master, good, bad = make_poller(clock)
    master.offline.add(bad.key)

    for _ in range(2):  # threshold 2: both rounds ask the offline meter
        readings = poller.poll_once()
        assert readings[0].ok and not readings[1].ok and not readings[1].skipped
    master.asked.clear()

    readings = poller.poll_once()
    assert readings[0].data == {"id": good.key}
    assert readings[1].skipped and "circuit open" in (readings[1].error or "")
    assert master.asked == [good.key]  # the offline meter cost no bus time

    master.offline.clear()
    clock.now += 60
    readings = poller.poll_once()
    assert all(r.ok for r in readings)
    assert poller.breaker.state(bad.key) == "closed"


def test_port_errors_do_not_trip_meter_breakers(clock: FakeClock) -> None:
    poller, master, good, bad = make_poller(clock)
    master.port_broken = True
    for _ in range(5):
        readings = poller.poll_once()
        assert not any(r.ok or r.skipped for r in readings)
    assert poller.breaker.state(good.key) == poller.breaker.state(bad.key) == "closed"


def test_async_poll_runs_in_the_io_thread_and_closes(clock: FakeClock) -> None:
    poller, master, _, _ = make_poller(clock)
    readings = asyncio.run(poller.apoll_once())
    assert [r.ok for r in readings] == [True, True]
    poller.close()
    assert master.closed
    assert not [t for t in threading.enumerate() if t.name.startswith("mbus-io")]
