"""The admin UI reports an error that ends it to the supervisor, with its traceback
(docs/architecture.md, Errors; issue 14 item 7), like any worker."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.integration.admin_ui.test_tls import self_signed
from tests.integration.admin_ui.web import free_port
from tests.integration.daemon import Daemon


def test_a_ui_that_cannot_start_lands_in_the_error_store(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    d = Daemon(tmp_path / "d", [], headless=False,
               extra_args=["--web-port", str(free_port()), "--web-certfile", str(cert),
                           "--web-keyfile", str(key)])
    try:
        d.start()
        pid = d.wait_state("admin-ui", "running")["pid"]
        cert.unlink()  # the next UI process cannot load its certificate
        os.kill(pid, signal.SIGKILL)

        def reported() -> list[dict]:
            return [e for e in d.call("errors", id="admin-ui")
                    if "FileNotFoundError" in e["message"]]

        rows = d.wait_for(reported, 30, "the UI's start-up error in the error store")
        assert rows[0]["fatal"] and "load_cert_chain" in rows[0]["traceback"]
    finally:
        d.cleanup()
