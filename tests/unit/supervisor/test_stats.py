"""The 1 Hz sampler reads one /proc file per child and second; disk I/O every 10 s."""

from __future__ import annotations

from edgeos.supervisor.stats import IO_EVERY_S, Sampler

from tests.unit.supervisor.fakes import FakeSystem


def test_io_counters_are_read_every_io_every_s_and_cpu_every_pass() -> None:
    system = FakeSystem()
    system.rss[7] = 20.0
    system.cpu[7] = 1.0
    sampler = Sampler(system)
    first = sampler.sample(7)
    assert first["cpu_percent"] == 0.0 and first["memory_mb"] == 20.0
    for _ in range(int(IO_EVERY_S) - 1):
        system.advance(1.0)
        system.cpu[7] += 0.25
        assert sampler.sample(7)["cpu_percent"] == 25.0
    system.advance(1.0)
    sampler.sample(7)
    assert system.proc_reads == [(7, True), *[(7, False)] * (int(IO_EVERY_S) - 1), (7, True)]


def test_a_gone_process_is_forgotten() -> None:
    system = FakeSystem()
    system.cpu[7] = 1.0
    sampler = Sampler(system)
    sampler.sample(7)
    del system.cpu[7]
    assert sampler.sample(7) == {}
    system.cpu[7] = 5.0  # (a new process with that pid) starts afresh: with its I/O
    assert sampler.sample(7)["cpu_percent"] == 0.0
    assert system.proc_reads[-1] == (7, True)


def test_without_io_the_disk_totals_stay_as_last_read() -> None:
    """The historian's figures rows carry no disk I/O: their passes never read it."""
    system = FakeSystem()
    system.cpu[7] = 1.0
    sampler = Sampler(system)
    for _ in range(3 * int(IO_EVERY_S)):
        assert sampler.sample(7, io=False)["disk_io_read_mb"] == 0.0
        system.advance(1.0)
    assert {io for _, io in system.proc_reads} == {False}
    sampler.sample(7)  # a status: due long since
    assert system.proc_reads[-1] == (7, True)
