"""Sessions and the login rate limiter."""

from __future__ import annotations

import time

from edgeos.admin_ui.sessions import LoginLimiter, SessionStore


def test_sessions_are_random_and_end() -> None:
    store = SessionStore()
    a, b = store.create("admin", "admin", "g1"), store.create("admin", "admin", "g1")
    assert a.id != b.id and a.csrf != b.csrf and len(a.id) >= 40
    assert store.get(a.id) is a
    store.end(a.id)
    assert store.get(a.id) is None and store.get(None) is None and store.get(b.id) is b


def test_idle_sessions_expire_and_the_table_is_bounded() -> None:
    store = SessionStore(idle_s=0.05, max_sessions=3)
    first = store.create("admin", "admin", "g")
    time.sleep(0.1)
    assert store.get(first.id) is None
    store = SessionStore(max_sessions=3)
    made = [store.create("admin", "admin", "g") for _ in range(4)]
    assert len(store.sessions) == 3 and made[0].id not in store.sessions


def test_limiter_blocks_a_user_after_failures_and_others_stay_open() -> None:
    limiter = LoginLimiter(per_user=3, per_client=5, window_s=0.2)
    for _ in range(3):
        assert limiter.retry_after("1.2.3.4", "admin") == 0
        limiter.failed("1.2.3.4", "admin")
    assert 0 < limiter.retry_after("1.2.3.4", "admin") <= 0.2
    assert limiter.retry_after("1.2.3.4", "viewer") == 0
    assert limiter.retry_after("5.6.7.8", "admin") == 0
    for _ in range(2):
        limiter.failed("1.2.3.4", "viewer")
    assert limiter.retry_after("1.2.3.4", "anyone") > 0  # the client's total is used up
    time.sleep(0.25)
    assert limiter.retry_after("1.2.3.4", "admin") == 0


def test_success_clears_only_that_user() -> None:
    limiter = LoginLimiter(per_user=2, per_client=3, window_s=60)
    limiter.failed("c", "admin")
    limiter.failed("c", "admin")
    limiter.succeeded("c", "admin")
    assert limiter.retry_after("c", "admin") == 0
    limiter.failed("c", "other")
    assert limiter.retry_after("c", "admin") > 0  # three failures from this client
