"""High availability: this core's role, epoch, peer and mirror lag; promote/demote
(admin only: the default role of a write)."""

from __future__ import annotations

from edgeos.admin_ui.handlers.base import ApiHandler

REASON_BODY = {"type": "object", "additionalProperties": False,
               "properties": {"reason": {"type": "string", "maxLength": 200}}}


class Ha(ApiHandler):
    tag = "ha"

    async def get(self) -> None:
        """role (primary, standby, active), epoch, peer, state, lag_dp, lag_s, followers."""
        self.send(await self.rpc("ha"))


class HaAction(ApiHandler):
    tag = "ha"
    path_params = {"action": {"enum": ["promote", "demote"]}}
    bodies = {"POST": REASON_BODY}

    async def post(self, action: str) -> None:
        """promote: this standby becomes the active core (the primary is fenced);
        demote: hand over to the connected standby."""
        reason = (self.json_body() or {}).get("reason") or "planned switch-over (admin UI)"
        if action == "promote":
            self.send(await self.rpc("ha_promote", reason=reason,
                                     who=f"ui:{self.principal.name}"))
        else:
            self.send(await self.rpc("ha_demote", reason=reason))
