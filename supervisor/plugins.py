"""The plugin manager: worker types installed with pip into their own folder.

A plugin is a distribution that registers worker types under the ``edgeos.workers``
entry points. It is installed with ``pip install --target`` into a fresh staging folder
under ``<data>/plugins/``, never into the core's environment, so a broken plugin or a
dependency clash cannot break the daemon. Only when pip succeeded and every type's
manifest is valid does the staging folder replace ``<data>/plugins/<name>/`` (a rename),
and only then does the registry see it. pip's output streams into a :class:`Job` that
callers read as it grows (edgectl and the UI wait on it; events carry it too).

One job at a time; enable/disable/uninstall refuse while one runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import platform
import re
import shutil
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeos.common import schemas
from edgeos.common.files import atomic_write_json
from edgeos.ipc.rpc import RpcError
from edgeos.supervisor import config as cfgmod
from edgeos.supervisor.process import State
from edgeos.workers import registry
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    from edgeos.supervisor.arbiter import Arbiter
    from edgeos.supervisor.process import Instance

log = logging.getLogger(__name__)

CORE_DISTRIBUTION = "smarthome-edge-os"
PLUGINS_DIR = "plugins"
PIP_TIMEOUT_S = 600.0
JOB_LINES = 2000  # pip output kept per job
LINE_CHARS = 1000
JOBS_KEPT = 20
# A PEP 508 name with optional extras and one version clause; no URLs, paths or options.
REQUIREMENT_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?"
                            r"(?:\[[A-Za-z0-9._,-]+\])?"
                            r"(?:(?:==|>=|<=|~=|!=|<|>)[A-Za-z0-9.*+!-]{1,40})?$")


class PluginProblem(Exception):
    """A refused plugin action; ``kind`` is refused, not_found or bad_request."""

    def __init__(self, message: str, kind: str = "refused", detail: Any = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.detail = detail


@dataclass
class Job:
    """One install or update: pip's lines as they come, then the outcome."""

    id: str
    action: str
    source: str
    state: str = "running"  # running, done, failed
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=JOB_LINES))
    dropped: int = 0  # lines that fell out of the window
    result: Any = None
    error: str | None = None
    detail: Any = None
    started: float = field(default_factory=time.time)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, line: str) -> None:
        if len(self.lines) == self.lines.maxlen:
            self.dropped += 1
        self.lines.append(line[:LINE_CHARS])
        self._poke()

    def finish(self, result: Any = None, error: str | None = None, detail: Any = None) -> None:
        self.state, self.result, self.error, self.detail = (
            "failed" if error else "done", result, error, detail)
        self._poke()

    def _poke(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, since: int, timeout: float) -> None:
        """Until there are lines past ``since`` or the job ended (at most ``timeout``)."""
        if self.state != "running" or self.dropped + len(self.lines) > since:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    def view(self, since: int = 0) -> dict[str, Any]:
        first = max(since - self.dropped, 0)
        return {"job": self.id, "action": self.action, "source": self.source,
                "state": self.state, "lines": list(itertools.islice(self.lines, first, None)),
                "next": self.dropped + len(self.lines), "result": self.result,
                "error": self.error, "detail": self.detail}


def index_args(index: str | None) -> list[str]:
    """pip options for ``plugins.index``: a URL is an index, anything else a folder of
    wheels (``file://`` or a path)."""
    if not index:
        return []
    if index.startswith(("http://", "https://")):
        return ["--index-url", index]
    folder = index.removeprefix("file://")
    return ["--no-index", "--find-links", folder]


def manifest_problems(wt: registry.WorkerType, manifest: Any) -> list[str]:
    """Why a plugin type's manifest is not acceptable (empty: it is)."""
    where = f"{wt.name}: manifest.json"
    found = [f"{where}: {e}" for e in schemas.errors("plugin-manifest", manifest)]
    if found:
        return found
    if manifest["name"] != wt.name:
        found.append(f"{where}: name {manifest['name']!r} is not the entry point's "
                     f"{wt.name!r}")
    if wt.version and manifest["version"] != wt.version:
        found.append(f"{where}: version {manifest['version']} is not the distribution's "
                     f"{wt.version}")
    problem = schemas.schema_problem(manifest["config_schema"])  # in the helper (issue 16)
    if problem is not None:
        found.append(f"{where}: config_schema is not a valid JSON Schema: {problem}")
    python = manifest.get("dependencies", {}).get("python")
    if python:
        try:
            if platform.python_version() not in SpecifierSet(python):
                found.append(f"{where}: needs Python {python}, this is "
                             f"{platform.python_version()}")
        except InvalidSpecifier:
            found.append(f"{where}: dependencies.python {python!r} is not a version "
                         f"specifier")
    return found


class PluginManager:
    """Install, update, uninstall, enable and disable plugins for one arbiter."""

    def __init__(self, arbiter: Arbiter) -> None:
        self.arbiter = arbiter
        self.root = arbiter.paths.data / PLUGINS_DIR
        self.jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._busy: Job | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._tidy()

    def _tidy(self) -> None:
        """Remove what a daemon that died during a job left (staging and trash folders)."""
        if self.root.is_dir():
            for left in self.root.glob(".job-*"):
                shutil.rmtree(left, ignore_errors=True)
            for left in self.root.glob(".trash-*"):
                shutil.rmtree(left, ignore_errors=True)

    # -- reading ---------------------------------------------------------------------
    def listing(self) -> list[dict[str, Any]]:
        """Every type: manifest facts, where it comes from, enabled, instances."""
        off = self.arbiter.settings.disabled_types
        out = []
        for wt in registry.all_types():
            manifest = registry.manifest(wt.name)
            out.append({
                "name": wt.name, "version": manifest.get("version") or wt.version,
                "description": manifest.get("description", ""),
                "author": manifest.get("author"), "repository": manifest.get("repository"),
                "distribution": wt.distribution,
                "plugin": wt.path.name if wt.path is not None else None,
                "builtin": wt.path is None,
                "enabled": wt.name not in off,
                "has_readme": registry.readme(wt.name) is not None,
                "instances": [i.id for i in self.instances_of({wt.name})],
                "config_schema": manifest.get("config_schema", {"type": "object"}),
            })
        return out

    def readme(self, type_name: str) -> str:
        try:
            text = registry.readme(type_name)
        except registry.UnknownWorkerType as exc:
            raise PluginProblem(str(exc), "not_found") from None
        if text is None:
            raise PluginProblem(f"{type_name!r} has no README", "not_found")
        return text

    async def latest(self, distribution: str) -> str | None:
        """The newest version the configured index offers (``pip index versions``)."""
        proc = await asyncio.create_subprocess_exec(
            *self._pip("index", "versions", distribution), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, env=self._env())
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return None
        match = re.search(r"\(([^)]+)\)", out.decode("utf-8", "replace"))
        return match.group(1) if proc.returncode == 0 and match else None

    async def updates(self) -> dict[str, dict[str, Any]]:
        """Per installed plugin: its version, the index's newest, and whether to update."""
        out = {}
        for folder in registry.plugin_folders():
            types = registry.types_in(folder)
            if not types:
                continue
            current = types[0].version
            newest = await self.latest(types[0].distribution or folder.name)
            out[folder.name] = {"version": current, "latest": newest,
                                "update_available": _newer(newest, current)}
        return out

    def instances_of(self, types: set[str]) -> list[Instance]:
        return [i for i in self.arbiter.workers() if i.cfg.type in types]

    # -- installing ------------------------------------------------------------------
    def start(self, action: str, source: str, who: str) -> Job:
        """Begin an install (``source``: a requirement, or an absolute path to a wheel or
        a project folder) or an update (``source``: an installed plugin's name)."""
        if action == "update":
            folder = self._folder(source)
            types = registry.types_in(folder)
            source = types[0].distribution if types and types[0].distribution \
                else folder.name
        elif not (REQUIREMENT_RE.match(source) or _local(source)):
            raise PluginProblem("source: a package name with an optional version "
                                "(edgeos-plugin-foo>=1.0), or the absolute path of a wheel "
                                "or a project folder", "bad_request")
        self._refuse_if_busy()
        job = self._busy = Job(id=f"{int(time.time())}-{next(self._ids)}", action=action,
                               source=source)
        self.jobs[job.id] = job
        while len(self.jobs) > JOBS_KEPT:
            self.jobs.pop(next(iter(self.jobs)))
        task = asyncio.get_running_loop().create_task(self._run(job, who))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def _refuse_if_busy(self) -> None:
        if self._busy is not None and self._busy.state == "running":
            raise PluginProblem(f"another plugin job is running ({self._busy.action} "
                                f"{self._busy.source}, job {self._busy.id})")

    async def _run(self, job: Job, who: str) -> None:
        staging = self.root / f".job-{job.id}"
        try:
            result = await self._install(job, staging)
        except PluginProblem as exc:
            job.finish(error=str(exc), detail=exc.detail)
        except Exception as exc:  # a bug here: the job must still end, with the trace logged
            log.exception("plugin job %s failed", job.id)
            job.finish(error=f"internal error: {type(exc).__name__}: {exc}")
        else:
            job.finish(result)
            self.arbiter.audit(f"plugin_{job.action}", who, job.source, **result)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.arbiter.publish("plugin", {"job": job.id, "state": job.state,
                                        "error": job.error})

    async def _install(self, job: Job, staging: Path) -> dict[str, Any]:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        code = await self._stream(job, self._pip("install", "--no-input",
                                                 "--no-warn-script-location", "--target",
                                                 str(staging), job.source))
        if code != 0:
            raise PluginProblem(f"pip install failed (exit {code}); nothing changed",
                                detail=list(job.lines)[-20:])
        types = registry.types_in(staging)
        dists = {wt.distribution for wt in types}
        if len(dists) != 1:
            raise PluginProblem(f"{job.source}: " + (
                "registers no worker type (entry point group edgeos.workers)" if not dists
                else f"more than one distribution registers types: {sorted(map(str, dists))}"
            ) + "; nothing changed")
        name = canonicalize_name(str(dists.pop()))
        if name == CORE_DISTRIBUTION:
            raise PluginProblem("the core is not a plugin")
        if job.action == "install" and (self.root / name).exists():
            raise PluginProblem(f"{name} is installed already; use update")
        if job.action == "update" and not (self.root / name).exists():
            raise PluginProblem(f"the index answered {job.source} with {name}; not updated")
        problems = []
        registered = {t.name: t for t in registry.all_types()}
        for wt in types:
            owner = registered.get(wt.name)
            if owner is not None and (owner.path is None or owner.path.name != name):
                problems.append(f"{wt.name}: the type is already registered by "
                                f"{owner.distribution}")
            problems += manifest_problems(wt, registry.read_manifest(wt))
        if problems:
            raise PluginProblem("invalid plugin, not installed", "bad_request", problems)
        job.add(f"manifests valid: {', '.join(wt.name for wt in types)}")
        installed = registry.types_in(self.root / name) if job.action == "update" else []
        if installed and installed[0].version == types[0].version:
            job.add(f"{name} {types[0].version} is the newest version; nothing to do")
            return {"plugin": name, "version": types[0].version,
                    "types": [t.name for t in types], "previous_version": types[0].version,
                    "unchanged": True}
        previous = await self._swap_in(job, staging, name, {wt.name for wt in types})
        return {"plugin": name, "version": types[0].version, "types": [t.name for t in types],
                "previous_version": previous}

    async def _swap_in(self, job: Job, staging: Path, name: str, types: set[str]
                       ) -> str | None:
        """Put the staged folder in place; an update re-validates the connections with
        the new manifests (rolled back if they no longer pass) and restarts the running
        instances of its types on the new code."""
        final, old = self.root / name, self.root / f".old-{job.id}"
        previous = None
        if final.exists():
            previous = next((t.version for t in registry.types_in(final)), None)
            final.rename(old)
        staging.rename(final)
        registry.refresh()
        try:
            if previous is not None:
                await self._apply_update(job, types)
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            if old.exists():
                old.rename(final)
            registry.refresh()
            raise
        shutil.rmtree(old, ignore_errors=True)
        return previous

    async def _apply_update(self, job: Job, types: set[str]) -> None:
        try:
            report = await self.arbiter.reload()
        except cfgmod.ConfigError as exc:
            raise PluginProblem("the connections do not pass the new version's schema; "
                                "the old version stays", "bad_request", exc.errors) from None
        except RpcError as exc:  # e.g. the routes no longer resolve
            raise PluginProblem(f"reload refused ({exc}); the old version stays",
                                detail=exc.detail) from None
        done = set(report["changed"]) | set(report["added"])
        again = [i for i in self.instances_of(types) if i.alive and i.id not in done]
        for inst in again:
            job.add(f"restarting {inst.id} on the new version")
        await asyncio.gather(*(self._restart(i) for i in again))

    async def _restart(self, inst: Instance) -> None:
        async with self.arbiter.lock(inst.id):
            await self.arbiter.stop_instance(inst, "plugin updated")
            inst.start("plugin updated")
            await self.arbiter.wait_for(inst, lambda i: i.state != State.STARTING,
                                        inst.READY_TIMEOUT_S)

    async def _stream(self, job: Job, argv: list[str]) -> int:
        job.add("$ " + " ".join(argv[2:]))
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL, env=self._env())
        assert proc.stdout is not None

        async def pump() -> None:
            assert proc.stdout is not None
            while line := await proc.stdout.readline():
                text = line.decode("utf-8", "replace").rstrip()
                job.add(text)
                self.arbiter.publish("plugin", {"job": job.id, "line": text})

        try:
            await asyncio.wait_for(pump(), PIP_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise PluginProblem(f"pip took longer than {PIP_TIMEOUT_S:.0f} s; nothing "
                                f"changed") from None
        return await proc.wait()

    def _pip(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "pip", *args, "--disable-pip-version-check",
                *index_args(self.arbiter.settings.plugins.get("index"))]

    @staticmethod
    def _env() -> dict[str, str]:
        return {**os.environ, "PYTHONNOUSERSITE": "1", "PIP_NO_INPUT": "1"}

    # -- enabling, removing ----------------------------------------------------------
    def _folder(self, name: str) -> Path:
        """A plugin's folder by plugin, distribution or type name."""
        canon = canonicalize_name(name)
        for folder in registry.plugin_folders():
            if folder.name == canon or any(t.name == name for t in registry.types_in(folder)):
                return folder
        try:
            if registry.worker_type(name).path is None:
                raise PluginProblem(f"{name!r} is built into the core and cannot be removed "
                                    f"or updated")
        except registry.UnknownWorkerType:
            pass
        raise PluginProblem(f"no plugin {name!r}", "not_found")

    async def _stop_instances(self, types: set[str], stop: bool, what: str) -> list[str]:
        """Refuse (listing them) unless told to stop the instances of ``types``; then stop
        every one of them and wait until they are down."""
        insts = self.instances_of(types)
        if insts and not stop:
            raise PluginProblem(f"{what}: instances of {', '.join(sorted(types))} exist; "
                                f"stop them with stop_instances (--stop-instances)",
                                detail=[i.id for i in insts])

        async def down(inst: Instance) -> None:
            async with self.arbiter.lock(inst.id):
                await self.arbiter.stop_instance(inst, what)

        await asyncio.gather(*(down(i) for i in insts if i.alive))
        return [i.id for i in insts]

    async def set_enabled(self, type_name: str, enabled: bool, stop_instances: bool,
                          who: str) -> dict[str, Any]:
        if type_name not in registry.available_types():
            raise PluginProblem(f"no plugin {type_name!r}", "not_found")
        self._refuse_if_busy()
        stopped: list[str] = []
        if not enabled:
            stopped = await self._stop_instances({type_name}, stop_instances,
                                                 f"disable {type_name}")
        off = self.arbiter.settings.disabled_types
        (off.discard if enabled else off.add)(type_name)
        self._write_plugins_setting({"disabled": sorted(off)})
        started = []
        if enabled and self.arbiter.mode == "normal":
            for inst in self.instances_of({type_name}):
                if inst.cfg.enabled and not inst.alive:
                    inst.start(f"type {type_name} enabled")
                    started.append(inst.id)
        self.arbiter.audit("plugin_enable" if enabled else "plugin_disable", who, type_name)
        return {"name": type_name, "enabled": enabled, "stopped": stopped,
                "started": started}

    async def uninstall(self, name: str, stop_instances: bool, who: str) -> dict[str, Any]:
        folder = self._folder(name)
        self._refuse_if_busy()
        types = {t.name for t in registry.types_in(folder)}
        stopped = await self._stop_instances(types, stop_instances, f"uninstall {name}")
        trash = self.root / f".trash-{folder.name}-{int(time.time())}"
        folder.rename(trash)  # the registry stops seeing it at once
        registry.refresh()
        shutil.rmtree(trash, ignore_errors=True)
        off = self.arbiter.settings.disabled_types
        if off & types:  # nothing left to disable
            self._write_plugins_setting({"disabled": sorted(off - types)})
        self.arbiter.audit("plugin_uninstall", who, folder.name, types=sorted(types))
        return {"uninstalled": folder.name, "types": sorted(types), "stopped": stopped}

    def _write_plugins_setting(self, change: dict[str, Any]) -> None:
        """Change ``plugins`` in edgeos.json (checked, atomic, backed up)."""
        path = self.arbiter.paths.config / cfgmod.SETTINGS
        doc = cfgmod.read_json(path) if path.exists() else {"version": "1.0"}
        doc["plugins"] = {**doc.get("plugins", {}), **change}
        problems = schemas.errors("edgeos", doc)
        if problems:
            raise PluginProblem(f"{cfgmod.SETTINGS} would be invalid", "bad_request",
                                problems)
        atomic_write_json(path, doc, backup_dir=self.arbiter.paths.backups)
        self.arbiter.settings.plugins = doc["plugins"]


def _local(source: str) -> bool:
    path = Path(source)
    return path.is_absolute() and (path.is_dir() or (path.is_file()
                                                     and path.suffix == ".whl"))


def _newer(latest: str | None, current: str | None) -> bool:
    try:
        return latest is not None and current is not None and Version(latest) > Version(
            current)
    except InvalidVersion:
        return False
