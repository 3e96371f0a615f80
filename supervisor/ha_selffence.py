"""Self-fencing (issue 15): an active core that has lost its standby AND every satellite
(the voters) for ``failover_s`` cannot tell a dead peer from its own isolation; the
standby may be promoting right now. So it stops its own device instances (the ones
without ``mirror``: a PLC, a Modbus slave), exactly as a standby holds them, until it
hears from the standby again. Satellite devices need no such fence: the epoch does it.

The gateway says when this core becomes alone and when it is not any more
(``ha_alone``); the timer runs here, where ``failover_s`` is known.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from edgeos.ipc.commands import Arg
from edgeos.supervisor import ha_setup
from edgeos.supervisor.ha_commands import HaCommand

log = logging.getLogger("edgeos")


class HaAlone(HaCommand):
    """(gateway) This core has no standby and no satellite connected (alone), or has again;
    alone for ``failover_s`` fences its own device instances until the standby is back."""

    name = "ha_alone"
    args = (Arg("alone", "bool", required=True, help="no standby and no satellite connected"),
            Arg("why", default="", help="what the gateway saw", most=500))

    async def execute(self, args: dict[str, Any]) -> Any:
        ha = self.ha
        if ha.fence_timer is not None:
            ha.fence_timer.cancel()
            ha.fence_timer = None
        if args["alone"] and ha.active and not ha.fenced:
            after = ha_setup.ha_settings(self.arbiter.paths.config)["failover_s"]
            ha.fence_timer = asyncio.get_running_loop().call_later(
                after, lambda: asyncio.ensure_future(self.fence(args["why"], after)))
        elif not args["alone"] and ha.fenced:
            await self.set_fenced("", f"unfenced: {args['why'] or 'the standby is back'}")
        return {"fenced": ha.fenced or None}

    async def fence(self, why: str, after: float) -> None:
        self.ha.fence_timer = None
        if self.ha.active:
            await self.set_fenced(f"alone for {after:g} s ({why or 'no standby, no satellite'}"
                                  "): the standby may take over", "self-fenced")

    async def set_fenced(self, fenced: str, what: str) -> None:
        """Fence or unfence: evented and audited like a role change, then the instances
        follow (``ha_view``)."""
        ha = self.ha
        ha.fenced = fenced
        reason = fenced or what
        log.warning("ha: %s: %s", what, reason)
        self.arbiter.audit("ha_fenced" if fenced else "ha_unfenced", "ha", reason,
                           epoch=ha.epoch)
        self.arbiter.publish("ha", {"from": ha.role, "to": ha.role, "epoch": ha.epoch,
                                    "peer": ha.peer, "reason": reason,
                                    "fenced": bool(fenced)})
        await self.apply_role()
