"""The plugin manager's small parts: the job log that callers wait on, the index
options, and the manifest checks (the whole flow runs against a real daemon in
tests/integration/plugins)."""

from __future__ import annotations

import asyncio
import platform
from pathlib import Path
from typing import Any

import pytest
from edgeos.supervisor.plugins import Job, index_args, manifest_problems
from edgeos.workers.registry import WorkerType

from tests.integration.plugins.wheels import manifest


def test_a_waiting_reader_wakes_on_the_next_line_and_sees_only_new_ones() -> None:
    async def scenario() -> tuple[dict[str, Any], float]:
        job = Job(id="1", action="install", source="x")
        job.add("first")
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, job.add, "second")
        t0 = loop.time()
        await job.wait(since=1, timeout=5)
        return job.view(since=1), loop.time() - t0

    view, waited = asyncio.run(scenario())
    assert view["lines"] == ["second"] and view["next"] == 2 and view["state"] == "running"
    assert waited < 4  # woken by the line, not by the timeout


def test_the_job_log_is_bounded_and_counts_what_fell_out() -> None:
    async def scenario() -> dict[str, Any]:
        job = Job(id="1", action="install", source="x")
        for n in range(2500):
            job.add(f"line {n}" + "x" * 5000)
        job.finish(error="pip failed")
        await job.wait(since=0, timeout=5)  # an ended job answers at once
        return job.view(since=2400)

    view = asyncio.run(scenario())
    assert view["next"] == 2500 and len(view["lines"]) == 100
    assert view["lines"][0].startswith("line 2400") and len(view["lines"][0]) == 1000
    assert view["state"] == "failed" and view["error"] == "pip failed"


@pytest.mark.parametrize(("index", "args"), [
    (None, []),
    ("https://pypi.example.invalid/simple", ["--index-url",
                                             "https://pypi.example.invalid/simple"]),
    ("/srv/wheels", ["--no-index", "--find-links", "/srv/wheels"]),
    ("file:///srv/wheels", ["--no-index", "--find-links", "/srv/wheels"]),
])
def test_index_options(index: str | None, args: list[str]) -> None:
    assert index_args(index) == args


WT = WorkerType("counter", "pkg.worker:W", "edgeos-plugin-counter", "1.0.0", Path("/x"))


def test_a_good_manifest_passes() -> None:
    assert manifest_problems(WT, manifest("counter", "1.0.0")) == []


@pytest.mark.parametrize(("change", "why"), [
    ({"author": None}, "'author' is a required property"),
    ({"name": "other"}, "name 'other' is not the entry point's 'counter'"),
    ({"version": "9.9"}, "version 9.9 is not the distribution's 1.0.0"),
    ({"config_schema": {"type": "nonsense"}}, "config_schema is not a valid JSON Schema"),
    ({"dependencies": {"python": "<3"}}, f"needs Python <3, this is "
                                         f"{platform.python_version()}"),
    ({"dependencies": {"python": "three"}}, "is not a version specifier"),
    ({"default_limits": {"nice": 99}}, "default_limits.nice"),
    ({"repository": "ftp://x"}, "repository"),
])
def test_bad_manifests_are_refused_with_the_reason(change: dict[str, Any], why: str) -> None:
    doc = {**manifest("counter", "1.0.0"), **change}
    problems = manifest_problems(WT, {k: v for k, v in doc.items() if v is not None})
    assert any(why in p for p in problems), problems
