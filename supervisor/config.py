"""Loading and validating the config dir: connections.json and edgeos.json.

Validation is all-or-nothing: a file with any error is refused as a whole with every
error listed (file, instance, field), and the caller keeps what it had.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeos.common import capacity, schemas
from edgeos.common.jsonfile import ConfigError, read_json
from edgeos.supervisor.process import InstanceConfig
from edgeos.workers import registry

CONNECTIONS = "connections.json"
ROUTING = "routing.json"
SETTINGS = "edgeos.json"

DEFAULT_LIMITS: dict[str, Any] = {
    "nice": 5,  # device workers run below the broker and the admin UI (nice 0)
    "max_ram_mb": 256,
    "max_cpu_share": 100,
    "max_pps": 500,
    "heartbeat_s": 5,
    "stop_timeout_s": 5,
}
RESERVED_IDS = frozenset({"log", "broker", "admin-ui", "supervisor", "system", "uplink",
                          "satellite-gateway", "historian", "ha-mirror"})


@dataclass
class Settings:
    """edgeos.json after validation, defaults filled in."""

    limits: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    types: dict[str, dict[str, Any]] = field(default_factory=dict)
    restart: dict[str, Any] = field(default_factory=dict)
    log_level: str = "INFO"
    max_instances: int = capacity.DEFAULT_MAX_INSTANCES
    web: dict[str, Any] = field(default_factory=dict)  # admin UI: allowed_hosts
    history: dict[str, Any] = field(default_factory=dict)
    plugins: dict[str, Any] = field(default_factory=dict)  # index, disabled types

    @property
    def disabled_types(self) -> set[str]:
        return set(self.plugins.get("disabled", []))

    def limits_for(self, type_name: str, own: dict[str, Any],
                   type_defaults: dict[str, Any] | None = None) -> dict[str, Any]:
        """Global defaults, the type's own defaults (its manifest's ``default_limits``, so a
        heavy plugin can ask to run below the others), edgeos.json's overrides for the
        type, then the instance's own limits."""
        return {**self.limits, **(type_defaults or {}),
                **self.types.get(type_name, {}).get("limits", {}), **own}


def load_settings(config_dir: Path) -> Settings:
    path = config_dir / SETTINGS
    if not path.exists():
        return Settings()
    doc = read_json(path)
    problems = [f"{SETTINGS}: {e}" for e in schemas.errors("edgeos", doc)]
    problems += history_problems(doc) if not problems else []
    if problems:
        raise ConfigError(problems)
    return Settings(limits={**DEFAULT_LIMITS, **doc.get("limits", {})},
                    types=doc.get("types", {}), restart=doc.get("restart", {}),
                    log_level=doc.get("log_level", "INFO"),
                    max_instances=capacity.settings_max_instances(doc), web=doc.get("web", {}),
                    history=doc.get("history", {}), plugins=doc.get("plugins", {}))


def history_problems(doc: dict[str, Any]) -> list[str]:
    """``history.points[n].match`` must be an address or a well-formed pattern."""
    from edgeos.ipc.routing.patterns import pattern_problem

    out = []
    for n, point in enumerate(doc.get("history", {}).get("points", [])):
        problem = pattern_problem(point["match"])
        if problem:
            out.append(f"{SETTINGS}: history.points[{n}].match: {problem}")
    return out


def validate_connections(doc: Any, settings: Settings,
                         source: str = CONNECTIONS) -> list[InstanceConfig]:
    """Check a connections document; returns the instances or raises ConfigError."""
    entries = doc.get("connections") if isinstance(doc, dict) else None
    if isinstance(entries, list):  # before any per-entry work: 10,000 are refused at once
        problems = capacity.instance_problems(
            source, len(entries),
            sum(not isinstance(e, dict) or e.get("enabled", True) is not False
                for e in entries), settings.max_instances)
        if problems:
            raise ConfigError(problems)
    problems = [f"{source}: {_name_instance(e, doc)}" for e in schemas.errors("connections", doc)]
    if problems:
        raise ConfigError(problems)
    seen: set[str] = set()
    out: list[InstanceConfig] = []
    for n, entry in enumerate(doc["connections"]):
        label = f"{source}: connections[{n}] (id {entry['id']!r})"
        iid, type_name = entry["id"], entry["type"]
        if iid in seen:
            problems.append(f"{label}: duplicate id")
        if iid in RESERVED_IDS:
            problems.append(f"{label}: id {iid!r} is reserved")
        seen.add(iid)
        try:
            manifest = registry.manifest(type_name)
        except registry.UnknownWorkerType as exc:
            problems.append(f"{label}: type: {exc}")
            continue
        if type_name in settings.disabled_types:
            problems.append(f"{label}: type: {type_problem(type_name, settings)}")
        schema = manifest.get("config_schema", {})
        config = entry.get("config", {})
        found = schemas.validate_against(schema, config)
        for err in found:
            problems.append(f"{label}: config.{err}" if not err.startswith("(") else
                            f"{label}: config: {err.split(': ', 1)[1]}")
        if not found:
            config = schemas.with_defaults(schema, config)
        out.append(InstanceConfig(
            id=iid, type=type_name, name=entry.get("name", iid),
            enabled=entry.get("enabled", True), config=config,
            limits=settings.limits_for(type_name, entry.get("limits", {}),
                                       manifest.get("default_limits")),
            critical=entry.get("critical", False), failsafe=entry.get("failsafe", {}),
            mirror=entry.get("mirror", False)))
    if problems:
        raise ConfigError(problems)
    capacity.warn_overcommit(source, [c.limits.get("max_ram_mb", 0) for c in out if c.enabled])
    return out


def type_problem(type_name: str, settings: Settings) -> str | None:
    """Why instances of this type cannot run now (disabled, uninstalled), or None."""
    if type_name in settings.disabled_types:
        return (f"{type_name!r} is disabled (edgectl plugin enable {type_name}, or remove "
                f"its connections)")
    if type_name not in registry.available_types():
        return f"worker type {type_name!r} is not installed"
    return None


def _name_instance(error: str, doc: Any) -> str:
    """``connections[1].limits.nice: ...`` -> ``connections[1] (id 'b'): limits.nice: ...``."""
    match = re.match(r"connections\[(\d+)\]\.?", error)
    if not match:
        return error
    try:
        iid = doc["connections"][int(match.group(1))]["id"]
    except (KeyError, IndexError, TypeError):
        return error
    rest = error[match.end():]
    return f"connections[{match.group(1)}] (id {iid!r}): {rest.lstrip(': ')}" if rest \
        else error


def load_connections(config_dir: Path, settings: Settings) -> list[InstanceConfig]:
    """Read and check connections.json; a missing file means no instances."""
    path = config_dir / CONNECTIONS
    if not path.exists():
        return []
    return validate_connections(read_json(path), settings)
