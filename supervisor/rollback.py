"""A reload that makes a process fail is rolled back (issue 17 item 3), for every
instance a reload starts or changes, not only the broker.

Without this, a worker whose new config makes it crash at once (or blow its RAM cap)
followed the normal restart policy: the reload answered success and the device stayed
down in back-off, then ``error``. Now the reload watches each instance it started or
changed for ``settle_s`` (``restart.reload_settle_s`` in edgeos.json, default 2 s). One
that crashes, is killed (RAM cap, watchdog) or never reports ready in that time is put
back: a changed instance runs again with its previous config, an added one is stopped
and dropped. The reload then answers an error naming each instance and why.
connections.json keeps the operator's text; the next reload tries it again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeos.supervisor.process import Instance, InstanceConfig, State

if TYPE_CHECKING:
    from edgeos.supervisor.arbiter import Arbiter

log = logging.getLogger(__name__)

DEFAULT_SETTLE_S = 2.0
FAILED = frozenset({State.BACKOFF, State.KILLED, State.ERROR})


@dataclass
class Trial:
    """An instance a reload starts or changes, and what to go back to."""

    id: str
    previous: InstanceConfig | None  # None: added by this reload
    was_alive: bool  # the previous process ran (so the restored one runs too)
    restarts: int  # restarts before the reload: any more is a crash since


def trials(arbiter: Arbiter, changed: list[str], added: list[str]) -> list[Trial]:
    """Note the instances a reload is about to change or add (before it touches them)."""
    out = [Trial(iid, arbiter.instances[iid].cfg, arbiter.instances[iid].alive,
                 arbiter.instances[iid].restarts) for iid in changed]
    return out + [Trial(iid, None, False, 0) for iid in added]


def failure(inst: Instance, trial: Trial) -> str | None:
    """Why ``inst`` failed since the reload started it, or None while it holds."""
    if inst.state in FAILED or inst.restarts > trial.restarts:
        return inst.last_error or inst.reason or str(inst.state)
    return None


async def settle(arbiter: Arbiter, tried: list[Trial], settle_s: float) -> dict[str, str]:
    """Watch the tried instances for ``settle_s`` (event-driven, all at once) and roll
    back each that failed; returns ``{id: why}`` of those rolled back."""
    async def watch(trial: Trial) -> tuple[str, str] | None:
        inst = arbiter.instances.get(trial.id)
        if inst is None or inst.state == State.STOPPED:
            return None  # not started by this reload (disabled, panic, was stopped)
        await arbiter.wait_for(inst, lambda i: failure(i, trial) is not None, settle_s)
        inst = arbiter.instances.get(trial.id)
        why = failure(inst, trial) if inst is not None else None
        if why is None:
            return None
        await roll_back(arbiter, trial, why)
        return trial.id, why

    done = await asyncio.gather(*(watch(t) for t in tried))
    return dict(d for d in done if d is not None)


async def historian(arbiter: Arbiter, iid: str, previous: dict[str, Any],
                    settle_s: float) -> str | None:
    """The historian a reload restarted with changed ``history`` settings: watched like
    a worker; on failure the previous settings come back (or it stops, when there was
    none). Returns why it was rolled back, or None."""
    inst = arbiter.instances.get(iid)
    if inst is None or inst.state == State.STOPPED:
        return None
    trial = Trial(iid, inst.cfg if previous.get("enabled", True) else None, True, 0)
    await arbiter.wait_for(inst, lambda i: failure(i, trial) is not None, settle_s)
    inst = arbiter.instances.get(iid)
    why = failure(inst, trial) if inst is not None else None
    if why is None:
        return None
    arbiter.settings = dataclasses.replace(arbiter.settings, history=previous)
    await roll_back(arbiter, trial, why)
    return why


async def roll_back(arbiter: Arbiter, trial: Trial, why: str) -> None:
    """Stop the failed instance; restore and start its previous config, or drop it."""
    what = "previous config restored" if trial.previous else "dropped (new instance)"
    log.error("%s: reload rolled back (%s): %s", trial.id, what, why)
    async with arbiter.lock(trial.id):
        failed = arbiter.instances[trial.id]
        failed.frozen = True  # no restart of the bad config while it is being stopped
        await arbiter.stop_instance(failed, f"reload rolled back: {why}")
        arbiter.record_error(failed, f"reload rolled back ({what}): {why}", None, False)
        if trial.previous is None:
            arbiter.instances.pop(trial.id, None)
            if arbiter.kernel is not None:
                arbiter.kernel.remove(trial.id)
            return
        back = arbiter.instances[trial.id] = arbiter._make(trial.previous)
        back.restarts = failed.restarts
        back.frozen = arbiter.mode == "panic"
        back.last_error = f"reload rolled back: {why}"
        if trial.was_alive:
            back.start("reload rolled back to the previous config")
    await arbiter.wait_for(back, lambda i: i.state != State.STARTING, back.READY_TIMEOUT_S)
