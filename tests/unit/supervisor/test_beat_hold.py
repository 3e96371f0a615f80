"""The worker channel's hold after a quiet burst (supervisor/beat_hold.py), on the fake
clock: held only after steady beats, with the pass near and nobody starting; watched
again (and read) when the pass comes, when a process is spawned, never twice."""

from __future__ import annotations

from edgeos.supervisor.beat_hold import HOLD_MAX_S, BeatHold

from tests.unit.supervisor.fakes import FakeSystem


class Channel:
    """Counts how often the arbiter's watch/unwatch callbacks ran."""

    def __init__(self) -> None:
        self.watched, self.reads = True, 0

    def watch(self) -> None:
        self.watched, self.reads = True, self.reads + 1

    def unwatch(self) -> None:
        self.watched = False


def make() -> tuple[FakeSystem, Channel, BeatHold]:
    system, channel = FakeSystem(), Channel()
    return system, channel, BeatHold(system, channel.watch, channel.unwatch)


def test_a_quiet_burst_holds_the_channel_until_the_pass() -> None:
    system, channel, hold = make()
    hold.after_read(quiet=True, pass_in=0.24, starting=False)
    assert hold.held and not channel.watched
    hold.after_read(quiet=True, pass_in=0.2, starting=False)  # (cannot: not watched)
    system.advance(0.2)
    assert not channel.watched  # the rest of the burst waits
    system.advance(0.05)  # the pass's instant: watched again and read
    assert channel.watched and channel.reads == 1 and not hold.held
    hold.release()  # the pass releases too: nothing more
    assert channel.reads == 1


def test_news_a_far_pass_or_a_starting_child_never_hold() -> None:
    _, channel, hold = make()
    hold.after_read(quiet=False, pass_in=0.2, starting=False)  # READY, ERROR, a moved rate
    hold.after_read(quiet=True, pass_in=HOLD_MAX_S + 0.1, starting=False)  # a straggler
    hold.after_read(quiet=True, pass_in=float("inf"), starting=False)  # nobody sleeps
    hold.after_read(quiet=True, pass_in=0.0, starting=False)  # the pass is due now
    hold.after_read(quiet=True, pass_in=0.2, starting=True)  # a HELLO/READY is coming
    assert channel.watched and not hold.held


def test_a_spawn_or_the_pass_ends_the_hold_at_once_and_the_timer_does_nothing_then() -> None:
    system, channel, hold = make()
    hold.after_read(quiet=True, pass_in=0.25, starting=False)
    hold.release()  # a process was spawned: its HELLO and READY are read at once
    assert channel.watched and channel.reads == 1
    system.advance(1.0)
    assert channel.reads == 1  # the timer was cancelled


def test_cancel_forgets_the_hold_without_watching_a_closing_channel() -> None:
    system, channel, hold = make()
    hold.after_read(quiet=True, pass_in=0.25, starting=False)
    hold.cancel()
    system.advance(1.0)
    assert not channel.watched and channel.reads == 0 and not hold.held
