"""The circuit breaker, driven by a fake clock."""

from __future__ import annotations

from edgeos.workers.modbus.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_probes_and_backs_off() -> None:
    clock = Clock()
    b = CircuitBreaker(threshold=3, open_s=2, max_open_s=7, clock=clock)
    for _ in range(2):
        b.record_failure()
        assert b.state == "closed" and b.allow() and b.retry_in() == 0
    b.record_failure()
    assert b.state == "open" and not b.allow() and b.retry_in() == 2 and b.opened == 1
    waits = []
    for _ in range(4):
        clock.now += b.retry_in()
        assert b.state == "half_open" and b.allow()
        b.record_failure()  # the probe fails
        waits.append(b.retry_in())
    assert waits == [4, 7, 7, 7] and b.opened == 5


def test_success_closes_and_resets_the_wait() -> None:
    clock = Clock()
    b = CircuitBreaker(threshold=1, open_s=1, max_open_s=60, clock=clock)
    b.record_failure()
    clock.now += 1
    b.record_failure()
    assert b.retry_in() == 2
    clock.now += 2
    b.record_success()
    assert b.state == "closed" and b.failures == 0
    b.record_failure()
    assert b.retry_in() == 1


def test_a_success_between_failures_restarts_the_count() -> None:
    b = CircuitBreaker(threshold=2, clock=Clock())
    b.record_failure()
    b.record_success()
    b.record_failure()
    assert b.state == "closed"
