"""Users in the auth store: add, role changes, removal, the last admin, sessions voided."""

from __future__ import annotations

from pathlib import Path

import pytest
from edgeos.common.auth import AuthError, AuthStore, Principal


def test_roles_are_ordered_viewer_operator_admin() -> None:
    viewer, operator, admin = (Principal("x", r, "user") for r in ("viewer", "operator",
                                                                      "admin"))
    assert viewer.may("viewer") and not viewer.may("operator") and not viewer.may("admin")
    assert operator.may("viewer") and operator.may("operator") and not operator.may("admin")
    assert admin.may("admin") and admin.may("operator")
    assert not Principal("x", "root", "user").may("viewer")


def test_add_list_update_remove_and_the_last_admin_stays(tmp_path: Path) -> None:
    store, reader = AuthStore(tmp_path), AuthStore(tmp_path)
    store.set_password("admin password")
    store.add_user("anna", "anna password", "operator")
    with pytest.raises(AuthError, match="exists"):
        store.add_user("anna", "another one", "viewer")
    with pytest.raises(AuthError, match="at least 8"):
        store.add_user("bob", "short", "viewer")
    with pytest.raises(AuthError, match="role"):
        store.add_user("bob", "long enough", "root")
    assert reader.list_users() == [
        {"name": "admin", "role": "admin", "changed": reader.list_users()[0]["changed"]},
        {"name": "anna", "role": "operator", "changed": reader.list_users()[1]["changed"]}]
    assert "hash" not in str(reader.list_users())
    anna = reader.check_password("anna", "anna password")
    assert anna is not None and anna.role == "operator"
    with pytest.raises(AuthError, match="last admin"):
        store.update_user("admin", role="viewer")
    with pytest.raises(AuthError, match="last admin"):
        store.remove_user("admin")
    store.update_user("anna", role="admin")
    assert reader.generation("anna") != anna.generation  # a role change ends her sessions
    store.update_user("admin", role="viewer")  # anna is an admin now
    store.update_user("anna", password="new anna password")
    assert reader.check_password("anna", "anna password") is None
    assert reader.check_password("anna", "new anna password") is not None
    store.remove_user("admin")
    assert reader.generation("admin") is None
    with pytest.raises(LookupError):
        store.remove_user("admin")
