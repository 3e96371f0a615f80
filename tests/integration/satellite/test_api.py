"""``GET /api/satellites`` and ``POST /api/satellites/trust|revoke`` on a real core with
its admin UI and a real satellite (CONTRACT section 7)."""

from __future__ import annotations

import pytest

from tests.integration.admin_ui.web import WebDaemon
from tests.integration.satellite.support import counter, free_endpoint

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]  # several daemons each


def test_satellites_api_lists_trusts_and_revokes(tmp_path, daemon_factory) -> None:
    host, port = free_endpoint()
    ui = WebDaemon(tmp_path / "core", [])
    ui.d.args += ["--satellite-listen", f"{host}:{port}"]  # the last one counts
    ui.start()
    try:
        key = ui.d.ctl_json("node-key")["key"]
        sat = daemon_factory([counter(rate_hz=20)], extra_args=[
            "--satellite", "--satellite-id", "sat1", "--core-host", f"{host}:{port}",
            f"--core-key={key}"]).start()
        admin = ui.admin()

        def state() -> str | None:
            rows = [r for r in admin.ok("GET", "/api/satellites") if r["id"] == "sat1"]
            return rows[0]["state"] if rows else None

        ui.d.wait_for(lambda: state() == "pending", 10, "pending in the API")
        viewer = ui.token("viewer", "v1")
        assert viewer.get("/api/satellites").status == 200
        assert viewer.post("/api/satellites/trust", {"pending": "sat1"}).status == 403
        bad = admin.post("/api/satellites/trust", {"key": "~" * 40, "id": "sat1"})
        assert bad.status == 400 and "Z85" in bad.json()["error"]
        trusted = admin.ok("POST", "/api/satellites/trust", {"pending": "sat1"})
        assert trusted["id"] == "sat1" and trusted["key"] == sat.ctl_json("node-key")["key"]
        ui.d.wait_for(lambda: state() == "connected", 10, "connected in the API")
        row = next(r for r in admin.ok("GET", "/api/satellites") if r["id"] == "sat1")
        assert {"address", "last_seen", "backlog", "rtt_ms", "delivered",
                "duplicates_dropped"} <= set(row)
        assert admin.ok("POST", "/api/satellites/revoke", {"id": "sat1"})["state"] == "revoked"
        assert state() == "revoked"
        assert admin.post("/api/satellites/revoke", {"id": "nosuch"}).status == 404
    finally:
        ui.close()
