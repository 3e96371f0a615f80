"""Issue 19 item 3: a web port that cannot be bound stops the daemon at start, with the
port and the flag to change it, before anything else starts."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.integration.daemon import Daemon, sim


def test_a_busy_web_port_is_a_clear_error_at_start(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        d = Daemon(tmp_path, [sim("plc_1")], headless=False,
                   extra_args=["--web-port", str(port)])
        try:
            d.start(wait=False)
            assert d.proc is not None
            assert d.proc.wait(30) == 2
            log = d.daemon_log()
            assert f"cannot listen on 127.0.0.1:{port} for the admin UI" in log, log
            assert "--web-port" in log and "make run PORT=" in log
            assert "edgeos running" not in log
            assert d.children_by_run_dir() == []
        finally:
            d.cleanup()
