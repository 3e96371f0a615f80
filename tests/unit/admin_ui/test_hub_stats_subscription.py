"""The admin UI's hub asks the supervisor for the full stats only while a live socket
wants them, and keeps the sparkline history from the lean figures rows meanwhile
(issue 16): a real XPUB (what the supervisor's feed is) sees the subscriptions."""

from __future__ import annotations

from pathlib import Path

import pytest
import zmq
import zmq.asyncio
from edgeos.admin_ui import hub as hubmod
from edgeos.admin_ui.hub import Hub
from edgeos.ipc import addresses


class Page:
    """A live socket as the hub sees it."""

    def __init__(self, wants_stats: bool = True) -> None:
        self.follow_logs: str | None = None
        self.wants_stats = wants_stats
        self.stats: list[str] = []

    def push_stats(self, text: str) -> None:
        self.stats.append(text)

    def push_event(self, text: str) -> None:
        pass

    def recheck(self) -> None:
        pass


@pytest.fixture()
def feed(tmp_path: Path):  # type: ignore[no-untyped-def]
    ctx = zmq.asyncio.Context()
    xpub = zmq.Context.instance().socket(zmq.XPUB)
    xpub.setsockopt(zmq.LINGER, 0)
    xpub.bind(addresses.endpoint(tmp_path, addresses.EVENTS))
    hub = Hub(ctx, tmp_path)
    try:
        yield hub, xpub
    finally:
        hub.close()
        xpub.close(0)
        ctx.term()


def changes(xpub: zmq.Socket, n: int) -> list[bytes]:
    """The next ``n`` (un)subscriptions the XPUB hears."""
    out = []
    for _ in range(n):
        assert xpub.poll(5000), f"only {out}"
        out.append(xpub.recv())
    return out


def test_full_stats_only_while_a_socket_wants_them(feed) -> None:  # type: ignore[no-untyped-def]
    hub, xpub = feed
    first = changes(xpub, 6)
    assert b"\x01figures" in first and b"\x01stats" not in first
    page = Page()
    hub.join(page)
    assert changes(xpub, 2) == [b"\x01stats", b"\x00figures"]  # no gap in between
    other = Page(wants_stats=False)  # e.g. a dashboard in a hidden tab
    hub.join(other)
    hub.leave(page)
    assert changes(xpub, 2) == [b"\x01figures", b"\x00stats"]
    other.wants_stats = True  # the tab became visible
    hub.follow()
    assert changes(xpub, 2) == [b"\x01stats", b"\x00figures"]
    hub.follow()  # nothing changed: nothing sent
    assert not xpub.poll(200)


def test_history_from_figures_while_unwatched(feed, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    hub, _ = feed
    now = [1000.0]
    monkeypatch.setattr(hubmod.time, "monotonic", lambda: now[0])
    hub.dispatch("figures", [["plc_1", 1.5, 20.0, 6.0, 0.0], ["bms_1", 0.5, 18.0, 2.0, 1.0]])
    now[0] += 5
    hub.dispatch("figures", [["plc_1", 1.0, 20.5, 6.0, 0.0], ["bad"], "junk"])
    doc = hub.history_doc()
    assert [s[1:] for s in doc["plc_1"]] == [[1.5, 20.0, 6.0, 0.0], [1.0, 20.5, 6.0, 0.0]]
    assert len(doc["bms_1"]) == 1
    now[0] += hubmod.HISTORY_KEEP_S  # bms_1 stopped: no row since
    hub.dispatch("figures", [["plc_1", 1.0, 20.5, 6.0, 0.0]])
    assert set(hub.history_doc()) == {"plc_1"}
    # while a page watches, the stats are the history; the figures are not counted twice
    page = Page()
    hub.join(page)
    hub.dispatch("stats", [{"id": "plc_1", "cpu_percent": 2.0, "memory_mb": 21.0,
                            "pps_in": 6.0, "pps_out": 0.0}])
    hub.dispatch("figures", [["plc_1", 9.9, 99.0, 9.0, 9.0]])
    assert [s[1] for s in hub.history_doc()["plc_1"]] == [1.5, 1.0, 1.0, 2.0]
    assert len(page.stats) == 1
    # back to figures after a long watch: the ids the stats showed are not dropped at once
    hub.leave(page)
    now[0] += 10 * hubmod.HISTORY_KEEP_S
    hub.dispatch("stats", [{"id": "plc_1"}, {"id": "bms_1"}])  # (a last one in flight)
    hub.dispatch("figures", [["bms_1", 0.5, 18.0, 2.0, 1.0]])  # a partial (moved) row
    assert set(hub.history_doc()) == {"plc_1", "bms_1"}
