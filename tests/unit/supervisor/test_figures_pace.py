"""Which ``figures`` rows the supervisor's 1 Hz pass publishes (figures_pace.py), on a
hand-moved clock: every row once per aligned period, in between the rows of the
instances that said something, every row each second while someone watches."""

from __future__ import annotations

from edgeos.supervisor.figures_pace import FiguresPace


def test_every_row_once_per_aligned_period_and_nothing_in_between() -> None:
    pace = FiguresPace(every_s=5)
    passes = {t: pace.rows(t + 0.02, watched=False) for t in range(100, 111)}
    assert [t for t, rows in passes.items() if rows is None] == [100, 105, 110]
    assert all(rows == set() for rows in passes.values() if rows is not None)


def test_between_full_passes_only_the_instances_that_moved() -> None:
    pace = FiguresPace(every_s=5)
    assert pace.rows(100.02, watched=False) is None
    pace.touch("plc_1")
    pace.touch("broker")
    assert pace.rows(101.02, watched=False) == {"plc_1", "broker"}
    assert pace.rows(102.02, watched=False) == set()  # told once only
    pace.touch("plc_1")
    assert pace.rows(105.02, watched=False) is None  # the full pass has it anyway
    assert pace.rows(106.02, watched=False) == set()


def test_every_row_each_second_while_someone_watches() -> None:
    pace = FiguresPace(every_s=5)
    assert all(pace.rows(t + 0.02, watched=True) is None for t in range(100, 104))
    assert pace.rows(104.02, watched=False) == set()  # same period: no second full pass


def test_a_late_pass_still_counts_for_its_second() -> None:
    pace = FiguresPace(every_s=5)
    assert pace.rows(104.02, watched=False) is None
    assert pace.rows(104.999, watched=False) is None  # (the pass of 105, a hair early)
    assert pace.rows(105.4, watched=False) == set()
