"""What a standby holds of a satellite's series (ipc/ha/claims.py): values go to it
only in order and without a gap; a run that does not follow on is a gap to resend."""

from edgeos.ipc.ha import claims


def test_a_run_that_follows_on_is_taken_and_moves_the_claim() -> None:
    assert claims.take(["e1", 10], "e1", 11, ["a", "b"]) == (["e1", 12], ["a", "b"], False)


def test_what_it_holds_already_is_left_out() -> None:
    assert claims.take(["e1", 10], "e1", 9, ["x", "y", "a"]) == (["e1", 11], ["a"], False)
    assert claims.take(["e1", 10], "e1", 5, ["x"]) == (["e1", 10], [], False)


def test_a_run_after_a_gap_is_not_taken() -> None:
    """The standby lacks 11..19: sending 20 would put a hole in its record."""
    assert claims.take(["e1", 10], "e1", 20, ["z"]) == (["e1", 10], [], True)


def test_a_new_buffer_epoch_starts_at_one() -> None:
    assert claims.take(["e1", 10], "e2", 1, ["a"]) == (["e2", 1], ["a"], False)
    assert claims.take(None, "e2", 3, ["c"]) == (None, [], True)


def test_a_joining_standby_holds_what_the_satellite_was_told_or_what_it_reports() -> None:
    assert claims.base(50, None, "e1") == ["e1", 50]
    assert claims.base(50, ["e1", 70], "e1") == ["e1", 70]  # a re-join keeps its record
    assert claims.base(50, ["e0", 70], "e1") == ["e1", 50]  # another buffer's: ignored
    assert claims.base(50, ["e1", 20], "e1") == ["e1", 50]
