"""Security of the admin API against a real daemon: login, sessions, CSRF, roles,
tokens, password changes, rate limiting. Nothing here is mocked."""

from __future__ import annotations

import os
import stat

import pytest

from tests.integration.admin_ui.conftest import operations
from tests.integration.admin_ui.web import Web, WebDaemon
from tests.integration.daemon import sim


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    w = WebDaemon(tmp_path_factory.mktemp("auth"), [sim("plc_1", rate_hz=2),
                                                    sim("spare", "meter", rate_hz=1)]).start()
    yield w
    w.close()


@pytest.fixture(scope="module")
def doc(ui: WebDaemon):
    return ui.admin().ok("GET", "/api/openapi.json")


def test_health_needs_no_login_and_the_rest_does(ui: WebDaemon) -> None:
    anon = Web(ui.base)
    res = anon.get("/health")
    assert res.status == 200 and res.json()["status"] == "ok"
    for path in ("/status", "/metrics", "/api/admin/instances/stats"):
        res = anon.get(path)
        assert res.status == 401, path
        assert res.json()["error"].startswith("authentication required")
        assert res.headers["WWW-Authenticate"].startswith("Bearer")
    assert anon.get("/").status == 200  # the redirect to /login was followed
    assert b"login-form" in anon.get("/").body


def test_every_documented_route_refuses_anonymous_callers(ui: WebDaemon, doc) -> None:
    anon = Web(ui.base)
    checked = 0
    for method, path, op in operations(doc):
        if op["x-role"] == "none":
            continue
        body = {} if method in ("POST", "PUT") else None
        res = anon.request(method, path, **({"body": body} if body is not None else {}))
        assert res.status == 401, f"{method} {path}: {res.status}"
        assert set(res.json()) == {"error", "detail"}
        checked += 1
    assert checked > 30


def test_viewer_token_reads_but_cannot_control(ui: WebDaemon, doc) -> None:
    viewer = ui.token("viewer", "viewer1")
    assert viewer.get("/api/admin/instances/stats").status == 200
    pid = ui.d.instance("plc_1")["pid"]
    res = viewer.post("/api/admin/instances/plc_1/stop")
    assert res.status == 403 and "viewer" in res.json()["error"]
    inst = ui.d.instance("plc_1")
    assert inst["status"] == "running" and inst["pid"] == pid  # nothing changed
    for method, path, op in operations(doc):
        if op["x-role"] == "admin":
            assert viewer.request(method, path, body={}).status == 403, f"{method} {path}"
    assert viewer.post("/api/router/test", {"address": "plc_1.MAIN.fTemp",
                                            "value": 1}).status == 200


def test_login_sets_a_strict_httponly_cookie(ui: WebDaemon) -> None:
    web = Web(ui.base)
    res = web.login(WebDaemon.PASSWORD)
    assert res.status == 200
    cookie = res.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    me = web.ok("GET", "/api/session")
    assert me == {"user": "admin", "role": "admin", "kind": "user", "csrf": web.csrf}
    assert web.get("/").status == 200 and b"panic-button" in web.get("/").body
    assert Web(ui.base).login("wrong password").status == 401


def test_csrf_token_is_required_for_cookie_writes(ui: WebDaemon) -> None:
    web = ui.admin()
    pid = ui.d.instance("spare")["pid"]
    res = web.post("/api/admin/instances/spare/stop", csrf=False)
    assert res.status == 403 and "CSRF" in res.json()["error"]
    res = web.post("/api/admin/instances/spare/stop", headers={"X-CSRF-Token": "forged"},
                   csrf=False)
    assert res.status == 403
    assert ui.d.instance("spare")["pid"] == pid  # still the same process
    res = web.post("/api/admin/instances/spare/restart")
    assert res.status == 200, res.text
    assert res.json()["pid"] not in (None, pid)


def test_state_changing_bodies_must_be_json(ui: WebDaemon) -> None:
    web = ui.admin()
    res = web.post("/api/login", raw=b"username=admin&password=x",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert res.status == 415
    res = web.post("/api/login", raw=b"{not json", headers={"Content-Type": "application/json"})
    assert res.status == 400 and "invalid JSON" in res.json()["error"]
    res = web.post("/api/login", {"username": "admin"})
    assert res.status == 400 and any("password" in p for p in res.json()["detail"])


def test_logout_ends_the_session(ui: WebDaemon) -> None:
    web = ui.admin()
    assert web.post("/api/logout").status == 200
    assert web.get("/api/session").status == 401


def test_bearer_tokens_are_hashed_listed_and_revoked_at_once(ui: WebDaemon) -> None:
    admin = ui.token("admin", "script1")
    assert admin.get("/api/session").json()["kind"] == "token"
    listed = ui.d.ctl_json("token", "list")
    entry = next(t for t in listed if t["name"] == "script1")
    assert entry["role"] == "admin" and "token" not in entry and "hash" not in entry
    auth_file = ui.d.data / "auth.json"
    assert admin.token not in auth_file.read_text()
    assert stat.S_IMODE(os.stat(auth_file).st_mode) == 0o600
    dup = ui.d.ctl("token", "create", "--name", "script1")
    assert dup.returncode == 1 and "exists" in dup.stderr
    assert ui.d.ctl("token", "revoke", "script1").returncode == 0
    assert admin.get("/api/session").status == 401
    assert ui.d.ctl("token", "revoke", "script1").returncode == 1


def test_passwd_replaces_the_generated_password_and_ends_sessions(ui: WebDaemon) -> None:
    assert len(ui.generated) >= 12
    assert Web(ui.base).login(ui.generated).status == 401  # replaced by the fixture
    web = ui.admin()
    assert ui.d.ctl("passwd", input="short\n").returncode == 1  # too short: refused
    assert web.get("/api/session").status == 200
    new = "another long passphrase"
    assert ui.d.ctl("passwd", input=new + "\n").returncode == 0
    try:
        assert web.get("/api/session").status == 401  # made under the old password
        assert Web(ui.base).login(WebDaemon.PASSWORD).status == 401
        assert Web(ui.base).login(new).status == 200
    finally:
        assert ui.d.ctl("passwd", input=WebDaemon.PASSWORD + "\n").returncode == 0


def test_failed_logins_are_rate_limited(ui: WebDaemon) -> None:
    web = Web(ui.base)
    for _ in range(5):
        assert web.login("guess", username="mallory").status == 401
    res = web.login("guess", username="mallory")
    assert res.status == 429 and int(res.headers["Retry-After"]) > 0
    assert res.json()["detail"]["retry_after_s"] > 0
    assert web.login(WebDaemon.PASSWORD).status == 200  # another user from here still can
