"""The LOW_POWER profile: what it changes, in one place (docs/satellites.md lists it).

Chosen with ``--low-power`` (the same as ``--performance LOW_POWER``) or detected
(:func:`edgeos.supervisor.performance.detect`: a Pi Zero, less than 1 GB of RAM, or a
slow dual core). It makes a small host cheaper to run:

* no admin UI process (as ``--headless``): the UI, Tornado and its pages are never
  imported;
* no historian unless ``edgeos.json`` says ``"history": {"enabled": true}``: on a
  satellite the core keeps the history of everything it forwards;
* the zygote and the templates as on any profile (they used to be off here, when a
  template was exec'd and shared pages with its workers only: template 11.1 + forked
  worker 11.0 MB PSS against 15.4 MB exec'd). Now they are forked from the zygote,
  which the supervisor forks from itself, so everything shares the supervisor's pages:
  measured on a LOW_POWER satellite with one simulator, supervisor + broker + uplink +
  worker 36.9 MB PSS, 47.8 MB counting the node alone (every process, zygote and
  template included, 49.1 MB) against 58.9 MB for a BALANCED one with
  ``EDGEOS_FORKSERVER=off`` (supervisor/zygote.py; docs/zygote.md);
* in every child (:mod:`edgeos.ipc.low_power`, told through ``EDGEOS_PROFILE``):
  poll intervals multiplied, smaller in-memory queues, small SQLite page caches.

Everything else (the broker, the workers, the uplink, routes, limits, panic) works
as on any other profile.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

from edgeos.ipc import low_power as child_side

log = logging.getLogger("edgeos")

LOW_POWER = "LOW_POWER"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--low-power", action="store_true",
                   help="the LOW_POWER profile: no admin UI, no historian (a Pi Zero "
                        "satellite); the same as --performance LOW_POWER")


def profile_arg(args: argparse.Namespace) -> str | None:
    """``--low-power`` wins; a different ``--performance`` with it is a contradiction."""
    if not args.low_power:
        return args.performance
    if args.performance and args.performance.upper() != LOW_POWER:
        raise ValueError(f"--low-power contradicts --performance {args.performance}")
    return LOW_POWER


def apply(args: argparse.Namespace, profile: str) -> None:
    """Tell every child the profile (through the environment they inherit); LOW_POWER:
    run headless (said once at start, so nobody looks for the UI)."""
    os.environ[child_side.ENV] = profile
    if profile != LOW_POWER:
        return
    if not args.headless:
        log.warning("LOW_POWER profile: no admin UI (start with --performance BALANCED "
                    "to have it)")
        args.headless = True


def effects() -> dict[str, Any]:
    """What the running profile changes, for ``edgectl status``."""
    return child_side.effects()


def history_default(profile: str) -> bool:
    """Whether the historian runs when ``edgeos.json`` does not say."""
    return profile != LOW_POWER


def history_enabled(history: dict[str, Any], profile: str) -> bool:
    return bool(history.get("enabled", history_default(profile)))


def poll_multiplier(config_dir: Path) -> float:
    """``edgeos.json`` -> ``low_power.poll_multiplier``: a number from 1 to 10 (default
    2); anything else is refused with the file and the field named."""
    path = config_dir / "edgeos.json"
    default = child_side.POLL_MULTIPLIER
    if not path.exists():
        return default
    try:
        doc = json.loads(path.read_text("utf-8"))
    except ValueError:
        return default  # the settings loader reports the broken file
    section = doc.get("low_power", {}) if isinstance(doc, dict) else {}
    if not isinstance(section, dict):
        raise ValueError(f"{path}: low_power must be an object, got {section!r}")
    value = section.get("poll_multiplier", default)
    low, high = child_side.POLL_MIN, child_side.POLL_MAX
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{path}: low_power.poll_multiplier must be a number from "
                         f"{low:g} to {high:g}, got {value!r}")
    return float(value)


def configure(config_dir: Path) -> None:
    """Check the LOW_POWER settings of ``edgeos.json`` and hand them to every child
    (read at start: a change takes a restart)."""
    os.environ[child_side.POLL_ENV] = repr(poll_multiplier(config_dir))
