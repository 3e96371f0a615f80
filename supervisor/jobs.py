"""Long-running jobs (device discovery) as child processes with progress and a cancel.

The supervisor never runs device code, so a job is a process of its own that prints one
JSON object per line: ``{"progress": 0..1, "message": ...}`` while it works, ``{"found":
...}`` for each thing it finds, ``{"result": ...}`` at the end, or ``{"error": ...}``
with exit code 2 for arguments it refuses. The runner keeps the latest of these per job
for ``edgectl`` and the UI to poll, bounds how many jobs run and how many are remembered,
and ends a job's whole process group on cancel or when the daemon stops. Jobs die with
the supervisor (PR_SET_PDEATHSIG in the child).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

MAX_RUNNING = 2
KEEP = 20  # finished jobs remembered
MAX_LINE = 4 * 2**20  # a result line (a register map) may be large, not unbounded
MAX_FOUND = 1000


class JobError(Exception):
    """A job that cannot be started or is not known."""


@dataclass
class Job:
    id: str
    kind: str
    target: str
    state: str = "running"  # running, done, failed, cancelled
    progress: float = 0.0
    message: str = ""
    found: list[Any] = field(default_factory=list)
    result: Any = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    ended: float | None = None
    stderr: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    proc: asyncio.subprocess.Process | None = None
    #: set at the job's first output line, or when it ends without one
    first_line: asyncio.Event = field(default_factory=asyncio.Event)
    #: the job's first word was an error (it refused its request) or it ended silent
    refused: bool = False
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "target": self.target, "state": self.state,
                "progress": self.progress, "message": self.message, "found": self.found,
                "result": self.result, "error": self.error, "started": self.started,
                "ended": self.ended}

    def take(self, doc: dict[str, Any]) -> None:
        """One line of the job's output."""
        if "progress" in doc:
            self.progress = max(0.0, min(1.0, float(doc["progress"])))
            self.message = str(doc.get("message", ""))[:500]
        if "found" in doc and len(self.found) < MAX_FOUND:
            self.found.append(doc["found"])
        if "result" in doc:
            self.result = doc["result"]
        if "error" in doc:
            self.error = str(doc["error"])[:2000]


class JobRunner:
    """Starts job processes and follows their output on the event loop."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def running(self) -> list[Job]:
        return [j for j in self.jobs.values() if j.state == "running"]

    async def start(self, kind: str, target: str, argv: list[str],
                    stdin: bytes | None = None) -> Job:
        """Start ``argv``; ``stdin`` (the request, with any secrets) is written and closed."""
        if len(self.running()) >= MAX_RUNNING:
            raise JobError(f"{MAX_RUNNING} jobs are running already; wait or cancel one")
        # 48 random bits, as uuid4().hex[:12] gave, without importing uuid (issue 16)
        job = Job(os.urandom(6).hex(), kind, target)
        job.proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=self.env,
            start_new_session=True, limit=MAX_LINE)
        if stdin is not None:
            assert job.proc.stdin is not None
            job.proc.stdin.write(stdin)
            job.proc.stdin.close()
        self.jobs[job.id] = job
        self._forget_old()
        task = asyncio.create_task(self._follow(job), name=f"job-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        log.info("job %s started: %s %s", job.id, kind, target)
        return job

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("job follower failed", exc_info=task.exception())

    def _forget_old(self) -> None:
        finished = [j.id for j in self.jobs.values() if j.state != "running"]
        for job_id in finished[:max(0, len(self.jobs) - KEEP)]:
            del self.jobs[job_id]

    async def _follow(self, job: Job) -> None:
        proc = job.proc
        assert proc is not None and proc.stdout is not None and proc.stderr is not None
        err = asyncio.create_task(self._stderr(job, proc.stderr))
        while line := await proc.stdout.readline():
            try:
                doc = json.loads(line)
            except ValueError:
                job.stderr.append(line.decode("utf-8", "replace")[:500])
                continue
            if isinstance(doc, dict):
                job.take(doc)
            if not job.first_line.is_set():
                job.refused = job.error is not None
                job.first_line.set()
        code = await proc.wait()
        await err
        job.ended = time.time()
        if job.state == "cancelled":
            pass
        elif code == 0 and job.result is not None:
            job.state = "done"
        else:
            job.state = "failed"
            job.error = job.error or (f"exit code {code}: " + " | ".join(job.stderr))[:2000]
        if not job.first_line.is_set():
            job.refused = True
            job.first_line.set()
        job.finished.set()
        log.info("job %s %s", job.id, job.state)

    @staticmethod
    async def _stderr(job: Job, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            job.stderr.append(line.decode("utf-8", "replace").rstrip()[:500])

    def get(self, job_id: str) -> Job:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise JobError(f"no job {job_id!r}") from None

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.state == "running":
            job.state = "cancelled"
            self._kill(job)
        return job

    @staticmethod
    def _kill(job: Job) -> None:
        if job.proc is not None and job.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job.proc.pid, signal.SIGKILL)

    async def close(self) -> None:
        """End every running job (the daemon stops)."""
        for job in self.running():
            job.state = "cancelled"
            self._kill(job)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
