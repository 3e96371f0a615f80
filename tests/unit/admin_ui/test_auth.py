"""The auth store on real files: hashing, tokens, the shared file and its mode."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from edgeos.common.auth import AuthError, AuthStore, hash_password, verify_password


def test_password_hash_is_salted_scrypt() -> None:
    a, b = hash_password("same password"), hash_password("same password")
    assert a["algo"] == "scrypt" and a["salt"] != b["salt"] and a["hash"] != b["hash"]
    assert verify_password("same password", a) and not verify_password("other", a)
    assert not verify_password("x", {"salt": "zz"})


def test_first_password_is_generated_once_and_stored_hashed(tmp_path: Path) -> None:
    store = AuthStore(tmp_path)
    password = store.ensure_admin_password()
    assert password and len(password) >= 12
    assert store.ensure_admin_password() is None
    text = (tmp_path / "auth.json").read_text()
    assert password not in text and "scrypt" in text
    assert stat.S_IMODE(os.stat(tmp_path / "auth.json").st_mode) == 0o600
    me = store.check_password("admin", password)
    assert me is not None and me.role == "admin" and me.kind == "user"
    assert store.check_password("admin", "wrong") is None
    assert store.check_password("nobody", password) is None


def test_another_process_change_is_seen_at_once(tmp_path: Path) -> None:
    ui_side, ctl_side = AuthStore(tmp_path), AuthStore(tmp_path)
    ctl_side.set_password("first password")
    assert ui_side.check_password("admin", "first password")
    old_generation = ui_side.generation("admin")
    ctl_side.set_password("second password")
    assert ui_side.check_password("admin", "first password") is None
    assert ui_side.check_password("admin", "second password")
    assert ui_side.generation("admin") != old_generation


def test_bad_passwords_and_names_are_refused(tmp_path: Path) -> None:
    store = AuthStore(tmp_path)
    with pytest.raises(AuthError, match="8 characters"):
        store.set_password("short")
    with pytest.raises(AuthError, match="role"):
        store.set_password("long enough", role="root")
    with pytest.raises(AuthError, match="user name"):
        store.set_password("long enough", username="a b")
    assert not (tmp_path / "auth.json").exists()


def test_tokens_create_list_check_revoke(tmp_path: Path) -> None:
    store, reader = AuthStore(tmp_path), AuthStore(tmp_path)
    made = store.create_token("viewer", "grafana")
    token = made["token"]
    assert made["name"] == "grafana" and token.startswith("eos_")
    auto = store.create_token()
    assert auto["name"] == "token-2" and auto["role"] == "viewer"  # viewer unless asked
    who = reader.check_token(token)
    assert who is not None and who.role == "viewer" and who.label == "token:grafana"
    assert reader.check_token(token + "x") is None
    listed = reader.list_tokens()
    assert [t["name"] for t in listed] == ["grafana", "token-2"]
    assert token not in json.dumps(listed) and token not in (tmp_path / "auth.json").read_text()
    with pytest.raises(AuthError, match="exists"):
        store.create_token("admin", "grafana")
    with pytest.raises(AuthError, match="bad token name"):
        store.create_token("admin", "no spaces")
    assert store.revoke_token("grafana") and not store.revoke_token("grafana")
    assert reader.check_token(token) is None


def test_a_broken_file_keeps_the_last_good_version(tmp_path: Path) -> None:
    store = AuthStore(tmp_path)
    store.set_password("good password")
    assert store.check_password("admin", "good password")
    (tmp_path / "auth.json").write_text("{broken")
    assert store.check_password("admin", "good password")
