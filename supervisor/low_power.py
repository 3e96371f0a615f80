"""The LOW_POWER profile: what it changes, in one place (docs/satellites.md lists it).

Chosen with ``--low-power`` (the same as ``--performance LOW_POWER``) or detected
(:func:`edgeos.supervisor.performance.detect`: a Pi Zero, less than 1 GB of RAM, or a
slow dual core). It makes a small host cheaper to run:

* no admin UI process (as ``--headless``): the UI, Tornado and its pages are never
  imported;
* no historian unless ``edgeos.json`` says ``"history": {"enabled": true}``: on a
  satellite the core keeps the history of everything it forwards;
* no forkserver templates (``EDGEOS_FORKSERVER=off`` unless set): with the one or two
  workers of a small satellite a template costs more memory than its fork shares
  (measured: template 11.1 + forked worker 11.0 MB PSS against 15.4 MB exec'd), and
  it is one process and thread less;
* in every child (:mod:`edgeos.ipc.low_power`, told through ``EDGEOS_PROFILE``):
  poll intervals multiplied, smaller in-memory queues, small SQLite page caches.

Everything else (the broker, the workers, the uplink, routes, limits, panic) works
as on any other profile.
"""

from __future__ import annotations

import argparse
import logging
import os
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
    run headless (said once at start, so nobody looks for the UI), no forkserver."""
    os.environ[child_side.ENV] = profile
    if profile != LOW_POWER:
        return
    os.environ.setdefault("EDGEOS_FORKSERVER", "off")
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
