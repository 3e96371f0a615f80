"""``GET /api/ha`` and ``POST /api/ha/promote|demote`` on a real core with its admin UI
(the System page's HA panel): viewers read, only admins act, a refused switch says why."""

from __future__ import annotations

import pytest

from tests.integration.admin_ui.web import WebDaemon
from tests.integration.ha.support import free_listen

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]  # several daemons each


def test_ha_api_reads_for_viewers_and_acts_for_admins(tmp_path) -> None:
    ui = WebDaemon(tmp_path / "core", [])
    ui.d.args += ["--satellite-listen", free_listen()]
    ui.start()
    try:
        admin = ui.admin()
        ha = admin.ok("GET", "/api/ha")
        assert (ha["role"], ha["epoch"], ha["state"]) == ("primary", 1, "alone")
        assert {"peer", "lag_dp", "lag_s", "followers"} <= set(ha)
        viewer = ui.token("viewer", "v1")
        assert viewer.get("/api/ha").status == 200
        assert viewer.post("/api/ha/promote", {}).status == 403
        # a primary cannot be promoted; with no standby connected it cannot hand over
        refused = admin.post("/api/ha/promote", {"reason": "test"})
        assert refused.status == 409 and "already primary" in refused.json()["error"]
        alone = admin.post("/api/ha/demote", {})
        assert alone.status == 503 and "no standby" in alone.json()["error"]
        assert admin.post("/api/ha/explode", {}).status in (400, 404)
    finally:
        ui.close()
