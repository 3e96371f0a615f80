"""ProcFiles against the real /proc: one open per file, fresh figures on every read,
nothing left open, and no figures of a process once it has been reaped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from edgeos.supervisor import seam
from edgeos.supervisor.procfs import ProcFiles, children_map, descendants
from edgeos.supervisor.seam import AsyncioSystem


def open_fds() -> set[str]:
    return {os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
            if os.path.exists(f"/proc/self/fd/{fd}")}


def test_reads_are_fresh_and_the_file_stays_open() -> None:
    files = ProcFiles()
    me = os.getpid()
    before = int(files.read(me, "stat").rsplit(b")", 1)[1].split()[11])
    sum(range(3_000_000))  # burn some user time
    after = int(files.read(me, "stat").rsplit(b")", 1)[1].split()[11])
    assert after > before
    assert files.open_count() == 1
    assert f"/proc/{me}/stat" in open_fds()
    files.forget(me)
    assert files.open_count() == 0
    assert f"/proc/{me}/stat" not in open_fds()


def test_a_reaped_process_reads_as_gone() -> None:
    files = ProcFiles()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert files.read(child.pid, "stat") is not None
    finally:
        child.kill()
        child.wait()
    # the fd belongs to the process, not the number: no figures from a reused pid
    assert files.read(child.pid, "stat") is None
    assert files.open_count() == 0


def test_system_forgets_the_files_of_a_child_when_it_exits(tmp_path: Path) -> None:
    import asyncio

    async def scenario() -> tuple[float | None, int, int]:
        loop = asyncio.get_running_loop()
        system = AsyncioSystem(loop)
        system.forks = None  # plain exec: this is about the files, not the forkserver
        done: asyncio.Future[int] = loop.create_future()
        # the child lives until told (a file appears): one that ended at once could
        # be a zombie, without RSS, by the time a loaded host let this test look
        go = tmp_path / "go"
        wait = f"import os, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.02)"
        spawned = system.spawn([sys.executable, "-c", wait],
                               dict(os.environ), b"", lambda pid, code: done.set_result(code))
        stats = system.proc_stats(spawned.pid)
        for _ in range(100):  # a child caught between fork and exec shows no RSS yet
            if stats is not None and stats.rss_mb > 0:
                break
            await asyncio.sleep(0.05)
            stats = system.proc_stats(spawned.pid)
        assert stats is not None and stats.rss_mb > 0
        rss = system.rss_mb(spawned.pid)
        opened = system.proc_files.open_count()
        go.touch()
        code = await asyncio.wait_for(done, 10)
        for fd in (spawned.stdout, spawned.stderr):
            if fd is not None:
                os.close(fd)
        assert code == 0
        return rss, opened, system.proc_files.open_count()

    rss, opened, left = asyncio.run(scenario())
    assert rss is not None and rss > 0
    assert opened == 3  # statm, stat, io
    assert left == 0


def gone(pid: int) -> bool:
    """Ended (a zombie counts: whoever inherited it reaps it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:
        return True


def test_one_scan_of_proc_for_every_tree_signalled_in_one_step(monkeypatch) -> None:
    """A stop of many instances reads the process table once (issue 16), and still
    reaches the grandchildren that left the process group."""
    scans = []

    def counted() -> dict[int, list[int]]:
        scans.append(1)
        return children_map()

    monkeypatch.setattr(seam, "children_map", counted)
    # a child that starts a grandchild in a session of its own (killpg misses it)
    code = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
            "'import time; time.sleep(60)'], start_new_session=True); "
            "print('up', flush=True); time.sleep(60)")
    kids = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                             start_new_session=True) for _ in range(3)]
    grandchildren: list[int] = []
    try:
        for kid in kids:
            assert kid.stdout is not None and kid.stdout.readline() == b"up\n"
        grandchildren = [g for k in kids for g in descendants(children_map(), k.pid)]
        assert len(grandchildren) == 3

        async def stop_all() -> None:
            system = AsyncioSystem(asyncio.get_running_loop())
            for kid in kids:
                system.kill_tree(kid.pid, signal.SIGTERM)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            system.kill_tree(kids[0].pid, signal.SIGTERM)  # a later step: read afresh

        asyncio.run(stop_all())
        assert len(scans) == 2
        for kid in kids:
            assert kid.wait(10) == -signal.SIGTERM
        deadline = time.monotonic() + 10
        while not all(gone(g) for g in grandchildren) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [g for g in grandchildren if not gone(g)] == []
    finally:
        for pid in [*grandchildren, *(k.pid for k in kids)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for kid in kids:
            kid.wait()
