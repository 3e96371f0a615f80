"""``--low-power`` on a real satellite: no admin UI process and no historian (the core
keeps the history), unless edgeos.json asks for history; the link still delivers."""

from __future__ import annotations

import pytest

from tests.integration.satellite.support import counter, free_endpoint

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]  # several daemons each


def _ids(daemon) -> set[str]:
    return {i["id"] for i in daemon.status()["instances"]}


def test_low_power_satellite_runs_lean(daemon_factory) -> None:
    host, port = free_endpoint()
    args = ["--satellite", "--satellite-id", "sat1", "--core-host", f"{host}:{port}",
            "--core-key=" + "x" * 40, "--low-power"]
    lean = daemon_factory([counter(rate_hz=20)], headless=False, extra_args=args).start()
    status = lean.status()
    assert status["performance"] == "LOW_POWER"
    assert _ids(lean) == {"broker", "uplink", "c1"}  # no admin-ui, no historian
    lean.wait_for(lambda: lean.ctl_json("get", "c1.seq")["value"] > 3, 10, "values")
    kept = daemon_factory([counter(rate_hz=20)], settings={"history": {"enabled": True}},
                          extra_args=args).start()
    assert _ids(kept) == {"broker", "uplink", "historian", "c1"}
