"""A standby refuses edits of what it mirrors (connections, routes, dashboards, users,
the satellite trust store): the active core's next mirrored version would overwrite
them. The refusal names the file and the core to edit on; nothing is written. Once
promoted, the same edit is taken. Two real daemons on 127.0.15.x, the standby with its
admin UI."""

from __future__ import annotations

from pathlib import Path

import pytest
from edgeos.ipc.rpc import REFUSED, RpcError

from tests.integration.admin_ui.web import Web, WebDaemon
from tests.integration.daemon import sim
from tests.integration.ha.support import free_listen

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]  # several daemons each


def refusal(call) -> RpcError:
    with pytest.raises(RpcError) as caught:
        call()
    assert caught.value.code == REFUSED
    return caught.value


def test_a_standby_refuses_edits_of_what_it_mirrors(daemon_factory, tmp_path: Path) -> None:
    p_listen, s_listen = free_listen(), free_listen()
    p = daemon_factory([sim("plc1", "plc", 10)],
                       extra_args=["--satellite-listen", p_listen]).start()
    p_key = p.ctl_json("node-key")["key"]
    ui = WebDaemon(tmp_path / "standby", [])
    ui.d.args += ["--satellite-listen", s_listen, "--standby-of", p_listen,
                  f"--primary-key={p_key}"]
    try:
        s = ui.d.start()
        s_key = s.ctl_json("node-key")["key"]
        assert p.ctl("ha", "trust", "--", s_key).returncode == 0
        token = p.ctl_json("token", "create", "--role", "admin", "--name", "ops")["token"]
        s.wait_for(lambda: "ops" in (s.data / "auth.json").read_text(), 20,
                   "the primary's auth store mirrored")
        conns = p.call("connections")
        s.wait_for(lambda: s.call("connections") == conns, 20, "connections.json mirrored")
        files = {n: (s.config / n).read_bytes() for n in ("connections.json",)}
        auth = (s.data / "auth.json").read_bytes()

        # supervisor commands: refused before anything is written, naming file and core
        edited = {**conns, "connections": [*conns["connections"], sim("plc2", "plc", 5)]}
        why = str(refusal(lambda: s.call("connections", doc=edited)))
        assert why == ("this core is a standby: connections.json is mirrored from the active "
                       f"core {p_listen}; edit it there")
        assert "routing.json" in str(refusal(lambda: s.call(
            "save_routes", doc={"version": "1.0", "routes": []})))
        assert "auth.json" in str(refusal(lambda: s.call(
            "user_add", username="eve", password="long enough pw", role="viewer")))
        done = s.ctl("satellites", "trust", "--id", "sat9", "--", p_key)
        assert done.returncode != 0 and "satellites.json is mirrored" in done.stderr
        assert {n: (s.config / n).read_bytes() for n in files} == files
        assert (s.data / "auth.json").read_bytes() == auth
        assert not (s.config / "routing.json").exists() or \
            (s.config / "routing.json").read_bytes() == (p.config / "routing.json").read_bytes()
        # reads go on: listings, status
        assert "ops" in str(s.call("token_list")) and s.call("connections") == conns

        # the admin UI: dashboards are read, not written; the System page says why
        web = Web(ui.base, token=token)
        board = {"title": "Plant", "widgets": {}}
        put = web.put("/api/dashboards/plant", board)
        assert put.status == 409 and "mirrored from the active core" in put.json()["error"]
        assert web.get("/api/dashboards").status == 200
        system = web.ok("GET", "/api/system/resources")
        assert system["config_read_only"].startswith("this core is a standby")

        # promoted (planned switch-over): the same edits are taken
        assert s.ctl("ha", "promote", "--reason", "test").returncode == 0
        s.wait_for(lambda: s.ctl_json("ha")["role"] == "active", 30, "standby promoted")
        s.call("connections", doc=edited)
        assert "plc2" in (s.config / "connections.json").read_text()
        assert web.put("/api/dashboards/plant", board).status in (200, 201)
        assert web.ok("GET", "/api/system/resources")["config_read_only"] is None
    finally:
        ui.close()
