"""tests/integration/support.py's wait_until paces a slow probe (one that runs a process,
like edgectl) to at most half the time, so a long wait no longer keeps a core busy; a
fast probe, and a caller's interval shorter than the default, are polled as before.
The pauses it asks for are recorded (the probes take real time)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.integration import support
from tests.integration.support import wait_until

real_sleep = time.sleep


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    asked: list[float] = []
    monkeypatch.setattr(support.time, "sleep", asked.append)
    return asked


def probe(takes: float, answers: int) -> Callable[[], bool]:
    """Takes ``takes`` seconds a call; truthy on call number ``answers``."""
    calls = [0]

    def run() -> bool:
        calls[0] += 1
        if takes:
            real_sleep(takes)
        return calls[0] == answers
    return run


def test_a_slow_probe_pauses_as_long_as_it_took(pauses: list[float]) -> None:
    assert wait_until(probe(0.2, 3), 30)
    assert len(pauses) == 2 and all(0.2 <= p <= 1.0 for p in pauses), pauses


def test_the_pause_is_at_most_a_second(pauses: list[float]) -> None:
    assert wait_until(probe(1.2, 2), 30)
    assert pauses == [1.0]


def test_a_fast_probe_keeps_the_interval(pauses: list[float]) -> None:
    assert wait_until(probe(0, 4), 30)
    assert pauses == [0.05] * 3


def test_a_short_interval_is_kept_for_a_slow_probe(pauses: list[float]) -> None:
    assert wait_until(probe(0.2, 3), 30, interval=0.01)
    assert pauses == [0.01, 0.01]


def test_a_probe_that_never_answers_times_out() -> None:
    with pytest.raises(AssertionError, match="timed out after 1 s waiting for never"):
        wait_until(probe(0.3, 0), 1, "never")
